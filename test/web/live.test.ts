// The pages follow the machines without a reload: a power change made through the API, a
// test queued, sent and reported, a boot served and `pxemngr nextboot` from the command line
// appear on the open fleet and machine pages (static/live.js over GET /events). Screenshots of
// both are left in the data directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { havePeers } from '../helpers/peers.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { PXEMNGR } from '../helpers/anvil-process.ts';

const MAC = '52:54:00:00:00:41';
/** Long enough for a loaded CI machine; the change itself is sent within a tenth of a second. */
const SEEN_WITHIN_MS = 30_000;

test('the event stream needs a signed-in browser', async (t) => {
  const a = await testAnvil(t, { powerSync: false });
  const refused = await fetch(`${a.url}/events`);
  assert.equal(refused.status, 401);
  assert.match(await refused.text(), /sign in at \/login/);
  const viewer = (await a.services.tokens.create('viewer', 'vera')).token;
  const stream = new AbortController();
  const token = await fetch(`${a.url}/events`, { headers: { cookie: `anvil_token=${viewer}` } });
  assert.equal(token.status, 401, 'the API token in a cookie signs nobody in');
  const open = await fetch(`${a.url}/events`, { headers: { cookie: await a.signIn(viewer) }, signal: stream.signal });
  assert.equal(open.status, 200);
  assert.equal(open.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.match(open.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const first = await open.body!.getReader().read();
  assert.match(new TextDecoder().decode(first.value), /^retry: \d+\n/);
  assert.equal(a.services.changes.subscribers, 1);
  stream.abort();
});

test('fleet and machine pages show a power change, runs and boots without a reload', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, CHROMIUM)) return;
  const a = await testAnvil(t, { powerSync: false });
  await a.services.machines.add('srv1', [MAC]);
  await a.services.machines.add('srv2', ['52:54:00:00:00:42']);
  const r = await a.api('/api/v1/machines/srv1', { method: 'PATCH', json: { driver: 'fake', driver_info: {} } });
  assert.equal(r.status, 200, await r.text());
  const viewer = (await a.services.tokens.create('viewer', 'vera')).token;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const context = await browser.newContext({ baseURL: a.url, viewport: { width: 1280, height: 720 } });
  const errors: string[] = [];
  const openPage = async (path: string): Promise<Page> => {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`${path}: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && errors.push(`${path}: ${m.text()}`));
    await page.goto(path);
    // A mark that a reload would wipe out.
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    await page.locator('[data-live-status][data-state=on]').waitFor({ timeout: SEEN_WITHIN_MS });
    return page;
  };
  const signIn = await context.newPage();
  await signIn.goto('/login');
  await signIn.fill('#token', viewer);
  await Promise.all([signIn.waitForURL((url) => url.pathname === '/'), signIn.click('button[type=submit]')]);
  await signIn.close();

  const fleet = await openPage('/');
  const machine = await openPage('/machines/srv1');
  const fleetCell = (field: string) => fleet.locator(`tr[data-machine=srv1] [data-field=${field}]`);
  assert.equal(await fleetCell('power').innerText(), 'unknown');
  assert.equal(await machine.locator('#power').innerText(), 'unknown');

  // Power, through the API, as another operator or a script would.
  const on = await a.api('/api/v1/machines/srv1/power', { method: 'PUT', json: { target: 'on' } });
  assert.equal(on.status, 200, await on.text());
  await fleetCell('power').filter({ hasText: /^on$/ }).waitFor({ timeout: SEEN_WITHIN_MS });
  await machine.locator('#power').filter({ hasText: /^on$/ }).waitFor({ timeout: SEEN_WITHIN_MS });
  assert.equal(await fleet.locator('tr[data-machine=srv2] [data-field=power]').innerText(), 'unknown', 'only srv1 changed');

  // A test queued, sent to the machine and reported: the runs table, then the fleet's last result.
  const queued = await a.api('/api/v1/machines/srv1/runs', { method: 'POST', json: { tests: ['hello'] } });
  const queuedText = await queued.text();
  assert.equal(queued.status, 201, queuedText);
  const [run] = JSON.parse(queuedText) as Array<{ id: number }>;
  await machine.locator(`tr[data-run="${run!.id}"]`, { hasText: 'requested' }).waitFor({ timeout: SEEN_WITHIN_MS });
  assert.equal((await fetch(`${a.url}/nexttest/${MAC}/`)).headers.get('x-anvil-run'), String(run!.id));
  await machine.locator(`tr[data-run="${run!.id}"]`, { hasText: 'sent' }).waitFor({ timeout: SEEN_WITHIN_MS });
  const upload = new FormData();
  upload.append('file', new Blob(['I: hello srv1\nW: fan slow\nE: disk sda: bad sector\n']), 'hello.log');
  assert.equal((await fetch(`${a.url}/upload/${run!.id}/`, { method: 'POST', body: upload })).status, 200);
  await machine.locator(`tr[data-run="${run!.id}"]`, { hasText: 'errors' }).waitFor({ timeout: SEEN_WITHIN_MS });
  await fleetCell('result').filter({ hasText: 'hello errors' }).waitFor({ timeout: SEEN_WITHIN_MS });

  // A boot served lands in the boot log.
  const rows = await machine.locator('table.timeline tbody tr').count();
  assert.equal((await fetch(`${a.url}/boot/${MAC}`)).status, 200);
  await machine.locator('table.timeline tbody tr').nth(rows).waitFor({ timeout: SEEN_WITHIN_MS });
  assert.match(await machine.locator('table.timeline tbody tr').first().innerText(), /boot served/);

  // Another process, writing the store itself: pxemngr on the command line.
  await promisify(execFile)(PXEMNGR, ['--data', a.data, 'nextboot', 'srv1', 'install']);
  await machine
    .locator('#next-boot')
    .filter({ hasText: /^install$/ })
    .waitFor({ timeout: SEEN_WITHIN_MS });
  await fleetCell('next')
    .filter({ hasText: /^install$/ })
    .waitFor({ timeout: SEEN_WITHIN_MS });

  for (const page of [fleet, machine]) assert.equal(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true);
  assert.deepEqual(errors, []);
  await fleet.screenshot({ path: join(a.data, 'live-fleet.png'), fullPage: true });
  await machine.screenshot({ path: join(a.data, 'live-machine.png'), fullPage: true });
  console.log(`screenshots: ${a.data}/live-fleet.png ${a.data}/live-machine.png`);
});
