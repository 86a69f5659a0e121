// Unknown machines that asked to boot, on the fleet page and in the API: a viewer sees them
// with the command that enrolls one; an operator enrolls one with a name (it becomes a machine
// and leaves the list) or forgets it; a bad name is refused and loses nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { havePeers } from '../helpers/peers.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { startAnvil } from '../../src/app/start.ts';

const FIRST = '52:54:00:d1:5c:01';
const SECOND = '52:54:00:d1:5c:02';

async function signIn(browser: Browser, url: string, token: string): Promise<Page> {
  const page = await (await browser.newContext({ baseURL: url })).newPage();
  await page.goto('/');
  await page.fill('#token', token);
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.click('button[type=submit]')]);
  return page;
}

test('discovered machines: listed by the API and the fleet page, enrolled or forgotten by an operator', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, CHROMIUM)) return;
  const data = await mkdtemp(join(tmpdir(), 'anvil-discovered-'));
  const abort = new AbortController();
  const anvil = await startAnvil({ http: { host: '127.0.0.1', port: 0 }, data, logLevel: false, powerSync: false }, abort.signal);
  t.after(async () => {
    abort.abort();
    await anvil.stopped;
    await rm(data, { recursive: true, force: true });
  });
  const viewer = (await anvil.services.tokens.create('viewer', 'vera')).token;
  const operator = (await anvil.services.tokens.create('operator', 'otto')).token;

  // Two unknown machines ask iPXE's question; the first asks twice.
  for (const mac of [FIRST, SECOND, FIRST]) {
    const res = await fetch(`${anvil.url}/boot/${mac}?platform=efi&arch=x86_64`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /no machine has MAC .*listed as discovered/);
  }
  const listed = (await (await fetch(`${anvil.url}/api/v1/discovered`, { headers: { authorization: `Bearer ${viewer}` } })).json()) as {
    mac: string;
    boots: number;
    loader: string;
    arch: string;
  }[];
  assert.deepEqual(listed.map((d) => [d.mac, d.boots, d.loader, d.arch]).sort(), [
    [FIRST, 2, 'iPXE', 'efi x86_64'],
    [SECOND, 1, 'iPXE', 'efi x86_64'],
  ]);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());

  await t.test('a viewer sees them with the enrolling command, and no forms', async () => {
    const page = await signIn(browser, anvil.url, viewer);
    assert.match((await page.textContent('h2#discovered')) ?? '', /2 unknown machines asked to boot/);
    const rows = await page.locator('table.discovered tbody tr td:first-child').allTextContents();
    assert.deepEqual(rows.sort(), [FIRST, SECOND]);
    assert.match((await page.textContent('main')) ?? (await page.content()), /pxemngr addsystem NAME MAC/);
    assert.equal(await page.locator('form.enroll').count(), 0);
    await page.context().close();
  });

  await t.test('an operator enrolls one by name, forgets the other; a bad name changes nothing', async () => {
    const page = await signIn(browser, anvil.url, operator);
    const first = page.locator('table.discovered tbody tr', { hasText: FIRST });
    await first.locator('input[name=name]').fill('bad name!');
    // The browser's own pattern check would stop the form; post it as a script would, past it.
    const refused = await page.request.post(`/discovered/${FIRST}/enroll`, {
      form: { name: 'bad name!', _csrf: await first.locator('input[name=_csrf]').inputValue() },
    });
    assert.equal(refused.status(), 400);
    assert.match(await refused.text(), /not a valid machine name/);
    assert.equal(await anvil.services.machines.byMac(FIRST), undefined);
    assert.equal((await anvil.services.discovered.list()).length, 2);

    await first.locator('input[name=name]').fill('rack4-node1');
    await Promise.all([page.waitForURL('**/machines/rack4-node1'), first.getByRole('button', { name: 'Enroll' }).click()]);
    assert.equal((await anvil.services.machines.byMac(FIRST))?.name, 'rack4-node1');

    await page.goto('/');
    const second = page.locator('table.discovered tbody tr', { hasText: SECOND });
    await Promise.all([page.waitForURL('**/'), second.getByRole('button', { name: 'Forget' }).click()]);
    assert.deepEqual(await anvil.services.discovered.list(), []);
    assert.equal(await page.locator('table.discovered').count(), 0);
    assert.deepEqual(await page.locator('table.fleet tbody tr td:first-child').allTextContents(), ['rack4-node1']);
    await page.context().close();
  });

  await t.test('the API forgets a MAC once, then says it is not listed', async () => {
    await fetch(`${anvil.url}/boot/${SECOND}`);
    const forget = () =>
      fetch(`${anvil.url}/api/v1/discovered/${SECOND.replaceAll(':', '-')}`, { method: 'DELETE', headers: { authorization: `Bearer ${operator}` } });
    assert.equal((await forget()).status, 204);
    const again = await forget();
    assert.equal(again.status, 404);
    assert.match(((await again.json()) as { error: { message: string } }).error.message, /not among the discovered machines/);
    const bad = await fetch(`${anvil.url}/api/v1/discovered/not-a-mac`, { method: 'DELETE', headers: { authorization: `Bearer ${operator}` } });
    assert.equal(bad.status, 400);
  });
});
