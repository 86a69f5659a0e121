// The fleet page's owner column and filter. On PostgreSQL three conductors share the fleet (this
// server's and two more heartbeating into the same database): each row names the conductor the
// hash ring gives the machine, and the owner filter, chosen in Chromium, shows exactly that
// conductor's machines. On SQLite one process owns everything and the page has no owner column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { havePeers } from '../helpers/peers.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { freshDatabase, havePostgres } from '../helpers/postgres.ts';
import { HashRing } from '../../src/conductor/hash-ring.ts';

const MACHINES = 60;
const OTHERS = ['other-host:101:aaaaaa', 'other-host:202:bbbbbb'];

const nameOf = (i: number) => `node-${String(i).padStart(2, '0')}`;

test('on PostgreSQL each row names its owner conductor and the owner filter shows its machines only', { timeout: 600_000 }, async (t) => {
  if (!havePostgres(t) || !havePeers(t, CHROMIUM)) return;
  const a = await testAnvil(t, { powerSync: false, databaseUrl: await freshDatabase() });
  for (let i = 1; i <= MACHINES; i++) await a.services.machines.add(nameOf(i), [`52:54:03:00:00:${i.toString(16).padStart(2, '0')}`]);
  // Two more conductors heartbeating (ahead of the clock, so they stay alive through the test).
  const ahead = new Date(Date.now() + 3600_000).toISOString();
  await a.services.store.db
    .insertInto('conductors')
    .values(OTHERS.map((id) => ({ id, hostname: 'other-host', pid: Number(id.split(':')[1]), started_at: ahead, heartbeat_at: ahead })))
    .execute();
  await a.services.conductors.refresh();
  const self = a.services.conductors.id!;
  const members = [self, ...OTHERS];
  assert.deepEqual([...a.services.conductors.ring.members].sort(), [...members].sort());
  const ring = new HashRing(members);
  const ownedBy = (id: string) => Array.from({ length: MACHINES }, (_, k) => nameOf(k + 1)).filter((n) => ring.owner(n) === id);
  assert.ok(
    members.every((id) => ownedBy(id).length > 0),
    'each conductor owns some machines',
  );

  // The page as served: an Owner heading, a cell per row naming the ring's owner, the live conductors to choose from.
  const page = await (await a.api('/')).text();
  assert.match(page, /<th>Owner<\/th>/);
  for (const [, name, owner] of page.matchAll(/<tr data-machine="([^"]+)">.*?<td class="mono" data-field="owner">([^<]*)<\/td>/g))
    assert.equal(owner, ring.owner(name!), name);
  assert.equal([...page.matchAll(/data-field="owner"/g)].length, MACHINES);
  const listed = [...page.matchAll(/<select name="owner" id="f-owner">(.*?)<\/select>/gs)][0]?.[1] ?? '';
  assert.deepEqual(
    [...listed.matchAll(/<option value="([^"]+)">/g)].map((m) => m[1]),
    [...members].sort(),
  );

  // In the browser: the owner chosen in the filter, the rows are its machines, counted.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const context = await browser.newContext({ baseURL: a.url });
  const tab = await context.newPage();
  await tab.goto('/');
  await tab.fill('#token', a.token);
  await Promise.all([tab.waitForURL((url) => url.pathname === '/'), tab.click('button[type=submit]')]);
  const other = OTHERS[1]!;
  await tab.selectOption('#f-owner', other);
  await Promise.all([tab.waitForURL(/owner=/), tab.click('#filters button[type=submit]')]);
  const mine = ownedBy(other);
  assert.deepEqual(await tab.locator('table.fleet tbody tr td.name a').allTextContents(), mine);
  assert.deepEqual(new Set(await tab.locator('table.fleet tbody [data-field=owner]').allTextContents()), new Set([other]));
  assert.equal(await tab.locator('#showing').innerText(), `1–${mine.length} of ${mine.length} matching (of ${MACHINES})`);
  assert.equal(await tab.locator('#f-owner').inputValue(), other);

  // With another filter too: this conductor's machines node-10 to node-19.
  const narrowed = await (await a.api(`/?owner=${encodeURIComponent(self)}&q=node-1&per-page=25`)).text();
  const rows = [...narrowed.matchAll(/<tr data-machine="([^"]+)">/g)].map((m) => m[1]);
  assert.deepEqual(
    rows,
    ownedBy(self).filter((n) => n.startsWith('node-1')),
  );
  // A conductor that is not live owns nothing; a malformed one is a clear 400.
  assert.match(await (await a.api('/?owner=gone-host%3A1%3Acccccc')).text(), /No machine matches these filters/);
  const bad = await a.api('/?owner=%3Cx%3E');
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /owner=&lt;x&gt; is not a conductor id/);
});

test('on SQLite the one process owns every machine: no owner column, and an owner filter still answers', { timeout: 300_000 }, async (t) => {
  const a = await testAnvil(t, { powerSync: false, databaseUrl: undefined });
  if (a.services.store.dialect !== 'sqlite') return;
  for (let i = 1; i <= 3; i++) await a.services.machines.add(nameOf(i), [`52:54:03:00:01:0${i}`]);
  const page = await (await a.api('/')).text();
  assert.doesNotMatch(page, /data-field="owner"|<th>Owner<\/th>|f-owner/);
  const self = a.services.conductors.id!;
  const all = await (await a.api(`/?owner=${encodeURIComponent(self)}`)).text();
  assert.deepEqual(
    [...all.matchAll(/<tr data-machine="([^"]+)">/g)].map((m) => m[1]),
    [nameOf(1), nameOf(2), nameOf(3)],
  );
});
