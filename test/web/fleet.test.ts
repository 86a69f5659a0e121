// The fleet page at 10,000 machines, in Chromium: one page of rows with its counts, a search by
// MAC, a filter, a sort, page links, the summary strip and stale marks, and an operator's bulk
// power-off of three machines on the fake driver; a viewer has no bulk form and is refused one.
// The machines are written to the store in bulk (10,000 enrolments one by one would be the test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { havePeers } from '../helpers/peers.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { testAnvil, type TestAnvil } from '../helpers/anvil-inproc.ts';
import { tempDir } from '../helpers/anvil-process.ts';

const FLEET = 10_000;
const FAKES = ['fake-1', 'fake-2', 'fake-3'];
const BULK = FLEET - FAKES.length;
const BATCH = 500;

const nameOf = (i: number) => `node-${String(i).padStart(5, '0')}`;
/** node-i's MAC: 52:54:01 and i in the last three octets. */
const macOf = (i: number) => `52:54:01:${[(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
/** Every third machine off, the rest on; every tenth on ipmi (as a column: no controller is asked). */
const powerOf = (i: number) => (i % 3 === 0 ? 'off' : 'on');
/** Every 40th machine ran a test: failed every 200th, with errors every 120th, clean otherwise. */
const resultOf = (i: number) => (i % 40 !== 0 ? 'none' : i % 200 === 0 ? 'failed' : i % 120 === 0 ? 'errors' : 'ok');

async function enrolFleet(a: TestAnvil): Promise<void> {
  const { db } = a.services.store;
  const now = new Date().toISOString();
  await db.transaction().execute(async (trx) => {
    for (let from = 1; from <= BULK; from += BATCH) {
      const numbers = Array.from({ length: Math.min(BATCH, BULK - from + 1) }, (_, k) => from + k);
      const rows = await trx
        .insertInto('machines')
        .values(
          numbers.map((i) => ({
            name: nameOf(i),
            power_state: powerOf(i),
            provision_state: i % 250 === 0 ? 'deploy-failed' : i % 100 === 0 ? 'deploying' : 'available',
            driver: i % 10 === 0 ? 'ipmi' : 'manual',
            created_at: now,
            updated_at: now,
          })),
        )
        .returning(['id', 'name'])
        .execute();
      await trx
        .insertInto('macs')
        .values(rows.map((r) => ({ mac: macOf(Number(r.name.slice(5))), machine_id: r.id })))
        .execute();
      // Each booted its disk once, a second apart, in name order.
      await trx
        .insertInto('boot_log')
        .values(
          rows.map((r) => ({
            machine_id: r.id,
            at: new Date(Date.now() - (BULK - Number(r.name.slice(5))) * 1000).toISOString(),
            kind: 'boot' as const,
            profile: 'local',
            reason: 'boot served',
            loader: 'ipxe',
            arch: null,
            address: null,
          })),
        )
        .execute();
      const ran = rows.map((r) => ({ ...r, result: resultOf(Number(r.name.slice(5))) })).filter((r) => r.result !== 'none');
      if (ran.length === 0) continue;
      await trx
        .insertInto('runs')
        .values(
          ran.map((r) => ({
            machine_id: r.id,
            test: 'hello',
            state: r.result === 'failed' ? ('error' as const) : ('done' as const),
            requested_at: now,
            sent_at: now,
            finished_at: now,
            errors: r.result === 'errors' ? 2 : 0,
            version: null,
            upload_path: null,
            upload_bytes: null,
            error_reason: r.result === 'failed' ? 'watchdog' : null,
          })),
        )
        .execute();
    }
  });
  for (const [i, name] of FAKES.entries()) {
    await a.services.machines.add(name, [`52:54:02:00:00:0${i + 1}`]);
    const r = await a.api(`/api/v1/machines/${name}`, { method: 'PATCH', json: { driver: 'fake', driver_info: {} } });
    assert.equal(r.status, 200, await r.text());
    await a.services.control.setPower(name, 'on', {}, 'test');
  }
  // node-00008 was served its installer an hour ago and nothing was heard of it since: stale.
  const silent = await a.services.machines.find(nameOf(8));
  await db
    .insertInto('boot_log')
    .values({
      machine_id: silent.id,
      at: new Date(Date.now() - 3600_000).toISOString(),
      kind: 'boot',
      profile: 'install',
      reason: 'boot served',
      loader: 'ipxe',
      arch: null,
      address: null,
    })
    .execute();
  // A run asked of node-00007 two hours ago and never sent: overdue, so stale.
  const stuck = await a.services.machines.find(nameOf(7));
  const [run] = await a.services.testing.queue(stuck, ['hello']);
  await db
    .updateTable('runs')
    .set({ requested_at: new Date(Date.now() - 2 * 3600_000).toISOString() })
    .where('id', '=', run!.id)
    .execute();
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

test('the fleet page at 10,000 machines: paged, searched, filtered, sorted, bulk power-off', { timeout: 600_000 }, async (t) => {
  if (!havePeers(t, CHROMIUM)) return;
  // A deploy boots the agent: a kernel and initrd of its own stand in for it.
  const agentBuild = tempDir();
  mkdirSync(agentBuild, { recursive: true });
  writeFileSync(join(agentBuild, 'vmlinuz'), 'k');
  writeFileSync(join(agentBuild, 'initrd.gz'), 'i');
  const a = await testAnvil(t, { powerSync: false, agentBuild });
  assert.equal((await a.api('/api/v1/images/tiny', { method: 'PUT', body: new Uint8Array(randomBytes(1 << 20)) })).status, 201);
  const started = performance.now();
  await enrolFleet(a);
  t.diagnostic(`${FLEET} machines written in ${Math.round(performance.now() - started)} ms`);
  assert.equal(await a.services.machines.count(), FLEET);

  // The page as the server renders it (a bearer token works for pages too), warm, five times each.
  for (const path of ['/', '/?sort=result', '/?sort=boot&dir=desc', '/?q=52%3A54%3A01%3A00%3A10%3Ae1', '/?power=off&per-page=1000']) {
    const times: number[] = [];
    for (let k = 0; k < 6; k++) {
      const at = performance.now();
      const r = await a.api(path);
      const html = await r.text();
      assert.equal(r.status, 200, html.slice(0, 500));
      if (k > 0) times.push(performance.now() - at);
    }
    t.diagnostic(
      `GET ${path} at ${FLEET} machines: median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)})`,
    );
  }

  const operator = (await a.services.tokens.create('operator', 'otto')).token;
  const viewer = (await a.services.tokens.create('viewer', 'vera')).token;
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const signIn = async (token: string) => {
    const context = await browser.newContext({ baseURL: a.url, viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    await page.goto('/');
    await page.fill('#token', token);
    await Promise.all([page.waitForURL((url) => url.pathname === '/'), page.click('button[type=submit]')]);
    return page;
  };
  const page = await signIn(operator);
  const names = () => page.locator('table.fleet tbody tr td.name a').allTextContents();
  const showing = () => page.locator('#showing').innerText();

  // One page of 100, counted; the strip counts the whole fleet.
  assert.equal(await page.locator('table.fleet tbody tr').count(), 100);
  assert.equal(await showing(), '1–100 of 10,000');
  assert.deepEqual((await names()).slice(0, 2), ['fake-1', 'fake-2']);
  const on = FAKES.length + Array.from({ length: BULK }, (_, k) => powerOf(k + 1)).filter((p) => p === 'on').length;
  const bar = (key: string) => page.locator(`svg.summary a[data-summary=${key}] .s-count`).textContent();
  assert.equal(await bar('on'), on.toLocaleString('en-US'));
  assert.equal(await bar('off'), (FLEET - on).toLocaleString('en-US'));
  assert.equal(await bar('deploying'), String(Math.floor(BULK / 100) - Math.floor(BULK / 500)));
  assert.equal(await bar('failed'), String(Math.floor(BULK / 250)));
  assert.equal(await bar('stale'), '2');
  const failing = Array.from({ length: BULK }, (_, k) => resultOf(k + 1)).filter((r) => r === 'failed' || r === 'errors').length;
  assert.equal(await bar('failing'), String(failing));
  assert.match(await page.locator('tr[data-machine=node-00007] [data-field=stale]').innerText(), /run overdue.*\(hello\) requested for 2 h/s);
  await page.screenshot({ path: join(a.data, 'fleet-10000.png') });
  t.diagnostic(`screenshot: ${a.data}/fleet-10000.png`);

  // Page links: the next page, then back through the last.
  await Promise.all([page.waitForURL(/page=2/), page.click('.pager a[rel=next]')]);
  assert.equal(await showing(), '101–200 of 10,000');
  await Promise.all([page.waitForURL(/page=100/), page.click('.pager a:has-text("last")')]);
  assert.equal(await showing(), '9,901–10,000 of 10,000');
  assert.equal((await names()).at(-1), nameOf(BULK));

  // A MAC in another notation and case finds its one machine.
  await page.fill('#q', '52-54-01-00-10-E1');
  await Promise.all([page.waitForURL(/q=/), page.click('#filters button[type=submit]')]);
  assert.deepEqual(await names(), [nameOf(0x10e1)]);
  assert.equal(await showing(), '1–1 of 1 matching (of 10,000)');

  // A filter narrows: powered off, on ipmi.
  await page.goto('/');
  await page.selectOption('#f-power', 'off');
  await page.selectOption('#f-driver', 'ipmi');
  await Promise.all([page.waitForURL(/power=off/), page.click('#filters button[type=submit]')]);
  const offIpmi = Array.from({ length: BULK }, (_, k) => k + 1).filter((i) => i % 3 === 0 && i % 10 === 0).length;
  assert.equal(await showing(), `1–100 of ${offIpmi.toLocaleString('en-US')} matching (of 10,000)`);
  assert.deepEqual(new Set(await page.locator('table.fleet tbody [data-field=power]').allTextContents()), new Set(['off']));
  assert.deepEqual(new Set(await page.locator('table.fleet tbody [data-field=driver]').allTextContents()), new Set(['ipmi']));

  // Sorted by name, then the other way by its heading (the filter stays).
  await Promise.all([page.waitForURL(/dir=desc/), page.click('table.fleet th a:text-is("Machine")')]);
  assert.equal(await page.locator('table.fleet th[aria-sort=descending]').innerText(), 'Machine ▼');
  const descending = await names();
  assert.equal(descending[0], nameOf(9990));
  assert.deepEqual(descending, [...descending].sort().reverse());
  assert.match(page.url(), /power=off&driver=ipmi&dir=desc/);

  // The strip's bars are links: the machines failing their tests, the worst first by the result heading.
  await page.goto('/');
  await Promise.all([page.waitForURL(/result=failing/), page.click('svg.summary a[data-summary=failing]')]);
  assert.equal(await showing(), `1–100 of ${failing} matching (of 10,000)`);
  await Promise.all([page.waitForURL(/sort=result/), page.click('table.fleet th a:text-is("Last result")')]);
  const results = await page.locator('table.fleet tbody [data-field=result] .st').allTextContents();
  assert.deepEqual([results[0], results.at(-1)], ['failed', 'errors']);
  assert.deepEqual(
    results,
    [...results].sort((x, y) => (x === y ? 0 : x === 'failed' ? -1 : 1)),
  );

  // The stale bar leads to the two stuck machines, each saying why.
  await Promise.all([page.waitForURL(/stale=1/), page.click('svg.summary a[data-summary=stale]')]);
  assert.deepEqual(await names(), [nameOf(7), nameOf(8)]);
  assert.match(
    await page.locator(`tr[data-machine=${nameOf(8)}] [data-field=stale]`).innerText(),
    /silent after boot\s+booted install \d+ min ago and not heard of since/,
  );
  assert.match(await page.locator(`tr[data-machine=${nameOf(8)}] [data-field=boot]`).innerText(), /^install · /);

  // What is stuck is on the machine's page too.
  await page.goto(`/machines/${nameOf(7)}`);
  assert.match(await page.locator('[data-live=stale] [data-stale=run-overdue]').innerText(), /Stale since .*: run \d+ \(hello\) requested for 2 h/);

  // Bulk: the fake machines, all three ticked at once, powered off.
  await page.goto('/?q=fake');
  assert.equal(await page.locator('table.fleet tbody tr').count(), 3);
  await page.check('#select-page');
  assert.equal(await page.locator('input.pick:checked').count(), 3);
  await Promise.all([page.waitForURL(/q=fake/), page.click('#bulk button[value=power-off]')]);
  await page.locator('[data-flash]', { hasText: 'Power off on 3 machines: 3 done.' }).waitFor({ timeout: 30_000 });
  assert.deepEqual(await page.locator('table.fleet tbody [data-field=power]').allTextContents(), ['off', 'off', 'off']);
  for (const name of FAKES) assert.equal((await a.services.control.powerState(name)).powerState, 'off');

  // The same three: next boot, then a test queued.
  await page.check('#select-page');
  await page.selectOption('#b-profile', 'install');
  await page.check('#bulk input[name=once]');
  await page.click('#bulk button[value=next-boot]');
  await page.locator('[data-flash]', { hasText: 'Next boot install (once) on 3 machines: 3 done.' }).waitFor({ timeout: 30_000 });
  assert.deepEqual(await page.locator('table.fleet tbody [data-field=next]').allTextContents(), ['install once', 'install once', 'install once']);
  await page.check('#select-page');
  await page.click('#bulk button[value=test]');
  await page.locator('[data-flash]', { hasText: 'Queue hello on 3 machines: 3 done.' }).waitFor({ timeout: 30_000 });
  for (const name of FAKES) assert.equal((await a.services.testing.runsOf((await a.services.machines.find(name)).id, 10))[0]?.state, 'requested');
  await page.screenshot({ path: join(a.data, 'fleet-bulk.png') });
  t.diagnostic(`screenshot: ${a.data}/fleet-bulk.png`);

  // Live: a machine powered on elsewhere changes its row and the strip, without a reload.
  await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
  await page.locator('[data-live-status][data-state=on]').waitFor({ timeout: 30_000 });
  const onBefore = Number((await bar('on'))!.replaceAll(',', ''));
  const r = await a.api('/api/v1/machines/fake-2/power', { method: 'PUT', json: { target: 'on' } });
  assert.equal(r.status, 200, await r.text());
  await page.locator('tr[data-machine=fake-2] [data-field=power]', { hasText: /^on$/ }).waitFor({ timeout: 30_000 });
  await page.locator('svg.summary a[data-summary=on] .s-count', { hasText: (onBefore + 1).toLocaleString('en-US') }).waitFor({ timeout: 30_000 });
  assert.equal(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true);

  // One that cannot: a machine without a controller says why.
  await page.goto('/?q=node-0000');
  await page.check(`tr[data-machine=${nameOf(1)}] input.pick`);
  await page.check(`tr[data-machine=${nameOf(2)}] input.pick`);
  await Promise.all([page.waitForURL(/q=node-0000/), page.click('#bulk button[value=power-on]')]);
  const answer = await page.locator('[data-flash]', { hasText: 'Power on on 2 machines' }).innerText({ timeout: 30_000 });
  assert.match(answer, /^Power on on 2 machines: 0 done, 2 failed — node-00001: .+; node-00002: .+\.$/);
  assert.match(answer, /manual/);

  // A deploy goes through the provisioner, which refuses an image the library does not have, machine by machine.
  const csrf = await page.locator('#bulk input[name=_csrf]').inputValue();
  const deploy = await page.request.post('/fleet/bulk', {
    form: { _csrf: csrf, action: 'deploy', image: 'no-such-image', machine: 'fake-3', back: '/?q=fake-3' },
  });
  assert.equal(deploy.status(), 200);
  assert.match(await deploy.text(), /Deploy no-such-image on 1 machine: 0 done, 1 failed — fake-3: [^<]*no-such-image/);
  // Without the form's token, nothing is done.
  const forged = await page.request.post('/fleet/bulk', { form: { action: 'power-on', machine: 'fake-1', back: '/' }, maxRedirects: 0 });
  assert.equal(forged.status(), 403);
  assert.equal((await a.services.control.powerState('fake-1')).powerState, 'off');
  // And with an image it has, the three fake machines start deploying, shown on their rows and in the strip.
  await page.goto('/?q=fake');
  const deployingBefore = Number(await bar('deploying'));
  await page.check('#select-page');
  await page.selectOption('#b-image', 'tiny');
  await page.click('#bulk button[value=deploy]');
  await page.locator('[data-flash]', { hasText: 'Deploy tiny on 3 machines: 3 done.' }).waitFor({ timeout: 60_000 });
  assert.deepEqual(await page.locator('table.fleet tbody [data-field=provision]').allTextContents(), ['wait-callback', 'wait-callback', 'wait-callback']);
  assert.equal(Number(await bar('deploying')), deployingBefore + 3);

  // A viewer: no checkboxes, no bulk form, and a bulk POST is refused.
  const look = await signIn(viewer);
  assert.equal(await look.locator('table.fleet tbody tr').count(), 100);
  assert.equal(await look.locator('#bulk').count(), 0);
  assert.equal(await look.locator('input.pick, #select-page').count(), 0);
  const refused = await look.request.post('/fleet/bulk', { form: { action: 'power-off', machine: 'fake-1', back: '/' }, maxRedirects: 0 });
  assert.equal(refused.status(), 403);
  assert.match(await refused.text(), /needs the operator role/);
  // Still on, as its deploy left it.
  assert.equal((await a.services.control.powerState('fake-1')).powerState, 'on');
});
