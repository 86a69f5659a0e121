// A machine's history on its page, in Chromium: power and provision events, boots and more than
// 200 test runs in one timeline, newest first and paged; the runs table paged with a count (page
// 2 and on hold the rest, each run once); the trend of a test with one point per finished run,
// coloured by version; and a stale marker once a run is overdue. The data is made through the
// services and anvil's machine-facing URLs, on a clock the test moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium, type Locator, type Page } from 'playwright-core';
import { havePeers } from '../helpers/peers.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { RUNS_PAGE } from '../../src/web/machine-page.ts';
import { TIMELINE_PAGE } from '../../src/machines/machines.ts';

const MAC = '52:54:00:00:07:01';
const NAME = 'hist-01';
/** More than the 200 the page used to cut at, and not a multiple of a page. */
const RUNS = 213;
/** The first runs report os 1, the rest os 2. */
const OS1_RUNS = 120;

test('the machine page shows boots, runs, power and provision events in one paged timeline, paged runs, a trend and a stale run', {
  timeout: 600_000,
}, async (t) => {
  if (!havePeers(t, CHROMIUM)) return;
  let now = Date.parse('2026-11-02T08:00:00.000Z');
  const tick = (ms: number) => {
    now += ms;
  };
  const a = await testAnvil(t, { powerSync: false, clock: () => new Date(now) });
  const { services } = a;
  const machine = (await services.machines.add(NAME, [MAC])).machine;
  const configured = await a.api(`/api/v1/machines/${NAME}`, { method: 'PATCH', json: { driver: 'fake', driver_info: {} } });
  assert.equal(configured.status, 200, await configured.text());

  // The start of its life: managed, powered on, network-booted.
  tick(60_000);
  await services.provisioner.manage(NAME, 'test');
  tick(60_000);
  await services.control.setPower(NAME, 'on', {}, 'test');
  tick(60_000);
  await services.nextBoot.set(NAME, 'install', { reason: 'test' });
  await services.nextBoot.serve(machine, { loader: 'ipxe', arch: 'x86_64', address: '192.0.2.71' });

  // Its runs, each queued, sent and uploaded a minute apart, as a machine does.
  const ids: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    tick(60_000);
    const [run] = await services.testing.queue(machine, ['hello']);
    const script = await fetch(`${a.url}/nexttest/${MAC}/`);
    assert.equal(script.headers.get('x-anvil-run'), String(run!.id));
    await script.text();
    tick(60_000);
    const log = `I: run ${i}\n${'W: fan slow\n'.repeat(i % 3)}${'E: disk error\n'.repeat(i % 5)}V: ${i < OS1_RUNS ? 'os 1' : 'os 2'}\n`;
    const upload = await fetch(`${a.url}/upload/${run!.id}/`, { method: 'POST', body: log, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(upload.status, 200, await upload.text());
    ids.push(run!.id);
  }

  // Later: powered off, booted again, provided; then a run that nobody picks up.
  tick(60_000);
  await services.control.setPower(NAME, 'off', {}, 'test');
  tick(60_000);
  await services.nextBoot.serve((await services.machines.find(NAME))!, { loader: 'ipxe', arch: 'x86_64', address: '192.0.2.71' });
  tick(60_000);
  await services.provisioner.provide(NAME, 'test');
  tick(60_000);
  const [overdue] = await services.testing.queue(machine, ['hello']);
  ids.push(overdue!.id);
  tick(45 * 60_000);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const viewer = (await services.tokens.create('viewer', 'vera')).token;
  const context = await browser.newContext({ baseURL: a.url, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const path = `/machines/${NAME}`;
  /** Clicks a page link and waits for that very page (a pattern would match the page it leaves). */
  const follow = async (link: Locator) => {
    const href = (await link.getAttribute('href'))!;
    await Promise.all([page.waitForURL((url) => url.pathname + url.search === href), link.click()]);
  };
  await page.goto(path);
  await page.fill('#token', viewer);
  await Promise.all([page.waitForURL((url) => url.pathname === path), page.click('button[type=submit]')]);

  await t.test('a run requested far beyond the usual time is marked stale', async () => {
    const marker = page.locator('[data-live="stale"] .stale[data-stale="run-overdue"]');
    assert.equal(await marker.count(), 1);
    assert.match((await marker.textContent()) ?? '', new RegExp(`run ${overdue!.id} \\(hello\\) requested for 45 min, usually 1 min`));
  });

  await t.test('the timeline has boots, runs, power and provision events, newest first, and its pages hold each once', async () => {
    const events = await services.control.events(NAME, 1000);
    const boots = await services.nextBoot.log(machine.id, 1000);
    const total = events.length + boots.length + ids.length;
    assert.ok(events.some((e) => e.kind === 'power') && events.some((e) => e.kind === 'provision'));
    assert.equal(await page.textContent('#timeline-count'), `1–${TIMELINE_PAGE} of ${total}`);
    const kinds = async () =>
      page.locator('table.timeline tbody tr').evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { kind: string } }).dataset.kind));
    // The newest: the run requested last, provide, the second boot, power off, then the last finished run.
    assert.deepEqual((await kinds()).slice(0, 5), ['run', 'provision', 'boot', 'power', 'run']);
    const first = page.locator('table.timeline tbody tr').first();
    assert.match((await first.textContent()) ?? '', new RegExp(`run ${overdue!.id} hello.*requested`));
    assert.match((await page.locator('table.timeline tr.t-power').first().textContent()) ?? '', /off/);

    const seen: string[][] = [];
    for (;;) {
      const rows = await page
        .locator('table.timeline tbody tr')
        .evaluateAll((trs) => trs.map((tr) => [...(tr as unknown as { cells: Array<{ textContent: string }> }).cells].map((c) => c.textContent)));
      seen.push(...rows);
      const older = page.locator('#timeline-pages a[rel=next]');
      if ((await older.count()) === 0) break;
      await follow(older);
    }
    assert.equal(seen.length, total, 'every entry once over the pages');
    const when = seen.map((row) => row[0]!);
    assert.deepEqual(when, [...when].sort().reverse(), 'newest first across pages');
    assert.equal(new Set(seen.map((r) => r.join('|'))).size, seen.length, 'no entry on two pages');
    // The oldest page ends where the machine began: given its driver, managed, powered on, next boot set, booted.
    assert.deepEqual(
      seen.slice(-5).map((r) => r[1]),
      ['boot served', 'next boot set', 'power', 'provision', 'driver'],
    );
    assert.match(seen.at(-3)![3]!, /\bon\b/);
  });

  await t.test('runs are paged with a count; page 2 and after hold the rest, each run once', async () => {
    await page.goto(path);
    const total = ids.length;
    assert.equal(await page.textContent('#runs-count'), `1–${RUNS_PAGE} of ${total}`);
    const runIds = (p: Page) =>
      p.locator('table.runs tbody tr').evaluateAll((rows) => rows.map((r) => Number((r as unknown as { dataset: { run: string } }).dataset.run)));
    const shown = await runIds(page);
    assert.equal(shown.length, RUNS_PAGE);
    await follow(page.locator('#runs-pages a:text-is("2")'));
    assert.equal(await page.textContent('#runs-count'), `${RUNS_PAGE + 1}–${2 * RUNS_PAGE} of ${total}`);
    for (;;) {
      shown.push(...(await runIds(page)));
      const older = page.locator('#runs-pages a[rel=next]');
      if ((await older.count()) === 0) break;
      await follow(older);
    }
    assert.deepEqual(shown, [...ids].reverse(), 'every run once, newest first');
    assert.ok(total > 200);
  });

  await t.test('the trend has one point per finished run, coloured by version', async () => {
    await page.goto(path);
    const finished = ids.slice(0, RUNS);
    const points = page.locator('svg#trend g.point');
    const runs = await points.evaluateAll((gs) => gs.map((g) => Number(g.getAttribute('data-point'))));
    assert.deepEqual(runs, finished);
    assert.equal(await page.locator('svg#trend g.point.v0').count(), OS1_RUNS);
    assert.equal(await page.locator('svg#trend g.point.v1').count(), RUNS - OS1_RUNS);
    const run7 = await services.testing.get(finished[7]!);
    assert.equal(run7.errors, 7 % 5);
    assert.match((await points.nth(7).locator('title').textContent()) ?? '', new RegExp(`run ${finished[7]} \\(hello\\).*os 1: 2 E: lines, 1 W: line$`));
    assert.match((await page.textContent('#trend-desc')) ?? '', new RegExp(`^${RUNS} runs`));
    const dir = process.env.ANVIL_SCREENSHOTS;
    if (dir) {
      await page.screenshot({ path: join(dir, 'machine-page.png'), fullPage: true });
      await page.screenshot({ path: join(dir, 'machine-top.png') });
      await page.locator('figure.trend').screenshot({ path: join(dir, 'machine-trend.png') });
    }
  });

  await t.test('the versions page draws the machine’s versions one after the other in time', async () => {
    await page.goto('/versions');
    const bars = page.locator(`svg#versions-chart g.machine-row[data-machine="${NAME}"] g.bar-version`);
    assert.deepEqual(await bars.evaluateAll((gs) => gs.map((g) => g.getAttribute('data-version'))), ['os 1', 'os 2']);
    const xs = await bars.locator('rect').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('x'))));
    assert.ok(xs[0]! < xs[1]!, `os 1 starts before os 2: ${xs.join(', ')}`);
    assert.match((await bars.first().locator('title').textContent()) ?? '', /os 1, first seen 2026-11-02 08:05:00, last seen 2026-11-02 12:03:00/);
    if (process.env.ANVIL_SCREENSHOTS) await page.screenshot({ path: join(process.env.ANVIL_SCREENSHOTS, 'versions.png'), fullPage: true });
  });

  await t.test('results over time fit their window to the runs: eight hours of them are eight hourly bars across the chart', async () => {
    await page.goto('/results');
    assert.match((await page.textContent('#window')) ?? '', /^Finished test runs per hour, the last 8 hours \(UTC\): the window fits the runs\./);
    const bars = page.locator('svg#results-chart rect.bar');
    const xs = new Set(await bars.evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('x')))));
    assert.equal(xs.size, 8, 'a bar in every hour from the first run to now');
    assert.ok(Math.min(...xs) < 100, 'the first bar is at the left, not squeezed at the right');
    if (process.env.ANVIL_SCREENSHOTS) await page.screenshot({ path: join(process.env.ANVIL_SCREENSHOTS, 'results.png'), fullPage: true });
  });

  await t.test('a page number or bucket size that is not one is a 400 that says so', async () => {
    const bad = await page.goto(`${path}?runs=0`);
    assert.equal(bad?.status(), 400);
    assert.match((await page.textContent('[role=alert]')) ?? '', /\?runs=0 is not a page number; pages are counted from 1/);
    const past = await page.goto(`${path}?runs=999`);
    assert.equal(past?.status(), 200);
    assert.equal(await page.textContent('#runs-count'), `${4 * RUNS_PAGE + 1}–${ids.length} of ${ids.length}`, 'a page past the end shows the last');
    const span = await page.goto('/results?by=week');
    assert.equal(span?.status(), 400);
    assert.match((await page.textContent('[role=alert]')) ?? '', /\?by=week is not a bucket size; say one of minute, hour, day, month/);
  });
});
