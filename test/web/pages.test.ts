// The web pages in a real browser (Debian's Chromium through playwright-core): sign-in, the
// fleet, a machine's boot log and runs after a simulated machine ran tests, a run's marked
// lines and escaped raw log, versions, the results chart, and the operator's forms.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { havePeers } from '../helpers/peers.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { startAnvil, type RunningAnvil } from '../../src/app/start.ts';
import { seedDemo, DEMO_MACHINES } from '../../src/app/demo/seed.ts';
import { bootOnce } from '../../src/lab/demo/simulated-machine.ts';

/** A test whose upload has every kind of line, and markup that must stay text. */
const WEBCHECK_TEST = [
  '#!/bin/sh',
  'echo "I: webcheck on {{ system }}"',
  'echo "W: fan 2 is slow"',
  'echo "E: disk /dev/sdz failed <script>alert(1)</script>"',
  'echo "V: web-os 2.0"',
  'echo "plain output <b>not bold</b>"',
  '',
].join('\n');

interface Lab {
  readonly anvil: RunningAnvil;
  readonly browser: Browser;
  readonly viewerToken: string;
  readonly operatorToken: string;
}

async function startLab(t: TestContext): Promise<Lab> {
  const data = await mkdtemp(join(tmpdir(), 'anvil-web-'));
  const abort = new AbortController();
  const anvil = await startAnvil({ http: { host: '127.0.0.1', port: 0 }, data, logLevel: false }, abort.signal);
  t.after(async () => {
    abort.abort();
    await anvil.stopped;
    await rm(data, { recursive: true, force: true });
  });
  await seedDemo(anvil.services);
  await writeFile(join(anvil.services.paths.tests, 'webcheck.test'), WEBCHECK_TEST);
  await anvil.services.testing.sync();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const viewerToken = (await anvil.services.tokens.create('viewer', 'vera')).token;
  const operatorToken = (await anvil.services.tokens.create('operator', 'otto')).token;
  return { anvil, browser, viewerToken, operatorToken };
}

/** The computed background colour (the test's tsconfig has no DOM types, hence the cast). */
function backgroundOf(locator: Locator): Promise<string> {
  type Window = { getComputedStyle(element: unknown): { backgroundColor: string } };
  return locator.evaluate((el) => (globalThis as unknown as Window).getComputedStyle(el).backgroundColor);
}

async function signIn(lab: Lab, token: string, path = '/'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await lab.browser.newContext({ baseURL: lab.anvil.url });
  const page = await context.newPage();
  await page.goto(path);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL((url) => url.pathname === path), page.click('button[type=submit]')]);
  return { context, page };
}

test('web pages', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, CHROMIUM)) return;
  const lab = await startLab(t);
  const { anvil } = lab;
  const target = DEMO_MACHINES[1]!;

  // A machine boots (recorded as iPXE would be), runs its queued tests and the webcheck test.
  const machine = await anvil.services.machines.find(target.name);
  await anvil.services.nextBoot.serve(machine, { loader: 'ipxe', arch: 'x86_64', address: '192.0.2.12' });
  await anvil.services.testing.queue(machine, ['webcheck']);
  const booted = await bootOnce({ server: anvil.url, mac: target.mac });
  assert.equal(booted.runs, 4);
  const webcheck = (await anvil.services.testing.runsOf(machine.id))[0]!;
  assert.equal(webcheck.test, 'webcheck');

  await t.test('pages need a sign-in, and a bad token says so', async () => {
    const context = await lab.browser.newContext({ baseURL: anvil.url });
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(`/machines/${target.name}`);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(new URL(page.url()).searchParams.get('next'), `/machines/${target.name}`);
    await page.fill('#token', 'anvil_not-a-real-token');
    await Promise.all([page.waitForSelector('[role=alert]'), page.click('button[type=submit]')]);
    assert.match((await page.textContent('[role=alert]')) ?? '', /not valid/);
    const cookies = await context.cookies();
    assert.equal(cookies.length, 0);
  });

  const { context, page } = await signIn(lab, lab.viewerToken);
  t.after(() => context.close());
  let dialogs = 0;
  page.on('dialog', (dialog) => {
    dialogs++;
    void dialog.dismiss();
  });

  await t.test('signing in sets an HttpOnly, SameSite=Strict cookie holding a session id, not the token', async () => {
    const [cookie, ...others] = await context.cookies();
    assert.deepEqual(others, []);
    assert.equal(cookie?.name, 'anvil_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.match(cookie?.value ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!lab.viewerToken.includes(cookie?.value ?? '') && !(cookie?.value ?? '').includes(lab.viewerToken));
  });

  await t.test('the fleet lists every machine with its last result', async () => {
    await page.goto('/');
    const names = await page.locator('table.fleet tbody tr td:first-child').allTextContents();
    assert.deepEqual(
      names,
      DEMO_MACHINES.map((m) => m.name),
    );
    const row = page.locator('table.fleet tbody tr', { hasText: target.name });
    const text = (await row.textContent()) ?? '';
    assert.match(text, /webcheck/);
    assert.match(text, /errors/);
    assert.match(text, /E 1/);
    assert.match(text, /web-os 2\.0/);
    assert.match(text, /52:54:00:de:00:02/);
    assert.match(text, /local · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, 'last boot: profile and when');
    assert.equal(await row.locator('td.r-errors').count(), 1);
  });

  await t.test('the machine page shows its boot log and runs, and no operator forms to a viewer', async () => {
    await page.goto(`/machines/${target.name}`);
    const log = (await page.locator('table.timeline').textContent()) ?? '';
    assert.match(log, /boot served/);
    assert.match(log, /ipxe/);
    assert.match(log, /192\.0\.2\.12/);
    const runs = await page.locator('table.runs tbody tr').allTextContents();
    assert.equal(runs.length, 4);
    assert.equal(await page.locator('#nextboot-form').count(), 0);
    // The timeline has the boot and every run; the trend one test's runs, here one each.
    assert.equal(await page.locator('table.timeline tr.t-run').count(), 4);
    const boots = (await anvil.services.nextBoot.log(machine.id)).filter((e) => e.kind === 'boot');
    assert.ok(boots.length >= 1);
    assert.equal(await page.locator('table.timeline tr.t-boot').count(), boots.length);
    assert.equal(await page.locator('svg#trend g.point').count(), 1);
    await Promise.all([page.waitForURL('**?test=webcheck'), page.click('#trend-tests a:text-is("webcheck")')]);
    assert.deepEqual(await page.locator('svg#trend g.point title').allTextContents(), [
      `run ${webcheck.id} (webcheck), ${webcheck.finished_at!.slice(0, 10)} ${webcheck.finished_at!.slice(11, 19)}, web-os 2.0: 1 E: line, 1 W: line`,
    ]);
    await Promise.all([page.waitForURL(`**/runs/${webcheck.id}`), page.click(`table.runs a[href="/runs/${webcheck.id}"]`)]);
  });

  await t.test('the run page marks the error line and shows the raw log as text', async () => {
    assert.equal(new URL(page.url()).pathname, `/runs/${webcheck.id}`);
    const error = page.locator('ol.lines li.line-E');
    assert.equal(await error.count(), 1);
    assert.match((await error.textContent()) ?? '', /error.*disk \/dev\/sdz failed <script>alert\(1\)<\/script>/);
    assert.equal(await page.locator('ol.lines li.line-W').count(), 1);
    assert.notEqual(await backgroundOf(error), await backgroundOf(page.locator('ol.lines li.line-I').first()), 'the error line stands out');
    assert.equal(await page.textContent('#version'), 'web-os 2.0');
    const raw = (await page.textContent('#raw')) ?? '';
    assert.match(raw, /<script>alert\(1\)<\/script>/);
    assert.match(raw, /plain output <b>not bold<\/b>/);
    assert.equal(await page.locator('#raw script, #raw b, ol.lines script').count(), 0);
    const full = await page.request.get(`/runs/${webcheck.id}/raw`);
    assert.equal(full.status(), 200);
    assert.match(full.headers()['content-type'] ?? '', /^text\/plain/);
    assert.match(await full.text(), /V: web-os 2\.0/);
    assert.equal(dialogs, 0);
  });

  await t.test('a huge log is shown truncated, with a link to all of it', async () => {
    const [run] = await anvil.services.testing.queue(machine, ['hello']);
    const script = await fetch(`${anvil.url}/nexttest/${target.mac}/`);
    assert.equal(script.headers.get('x-anvil-run'), String(run!.id));
    await script.text();
    const big = `E: first line\n${'x'.repeat(99)}\n`.repeat(4000) + 'I: the very end\n';
    const upload = await fetch(`${anvil.url}/upload/${run!.id}/`, { method: 'POST', body: big, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(upload.status, 200, await upload.text());
    await page.goto(`/runs/${run!.id}`);
    assert.match((await page.textContent('.alert')) ?? '', /first 256 KiB are shown/);
    const raw = (await page.textContent('#raw')) ?? '';
    assert.ok(raw.length < big.length && !raw.includes('the very end'));
    assert.equal(await page.locator('ol.lines li.line-E').count(), 4000);
    const full = await page.request.get(`/runs/${run!.id}/raw`);
    assert.equal((await full.text()).length, big.length);
  });

  await t.test('the versions page shows which machines run which version', async () => {
    await page.goto('/versions');
    const row = page.locator(`svg#versions-chart g.machine-row[data-machine="${target.name}"]`);
    assert.equal(await row.locator('g.bar-version[data-version="web-os 2.0"]').count(), 1);
    assert.match((await page.locator(`table.versions tr[data-machine="${target.name}"]`).allTextContents()).join(' '), /web-os 2\.0/);
  });

  await t.test('the results chart is an SVG with the runs in it', async () => {
    await page.goto('/results');
    const svg = page.locator('svg#results-chart');
    assert.equal(await svg.getAttribute('role'), 'img');
    // The demo's disk and memtest tests fail at random: count what the database holds.
    const runs = await anvil.services.testing.runsOf(machine.id);
    const withErrors = runs.filter((r) => r.errors > 0);
    assert.match((await svg.locator('desc').textContent()) ?? '', new RegExp(`^${runs.length} runs`));
    const errorLines = withErrors.reduce((n, r) => n + r.errors, 0);
    const titles = await svg.locator('rect.bar title').allTextContents();
    // The runs may fall into more than one bar (a bucket boundary passing while they ran): sum the bars.
    const sum = (pattern: RegExp) => titles.reduce((n, title) => n + Number(pattern.exec(title)?.[1] ?? 0), 0);
    assert.equal(sum(/(\d+) runs? with errors/), withErrors.length, titles.join('; '));
    assert.equal(sum(/with errors \((\d+) E: lines?\)/), errorLines, titles.join('; '));
    assert.equal(sum(/(\d+) runs? without errors/), runs.length - withErrors.length, titles.join('; '));
  });

  await t.test('a viewer gets 403 when posting a form', async () => {
    const response = await page.request.post(`/machines/${target.name}/nextboot`, { form: { profile: 'rescue' } });
    assert.equal(response.status(), 403);
    assert.equal((await anvil.services.machines.byName(target.name))?.next_profile, 'local');
  });

  await t.test('an unknown machine is a 404 page', async () => {
    const response = await page.goto('/machines/no-such-machine');
    assert.equal(response?.status(), 404);
    assert.match((await page.textContent('[role=alert]')) ?? '', /no machine named 'no-such-machine'/);
  });

  await t.test('an operator sets the next boot with the form; a form without its CSRF token is refused', async () => {
    const operator = await signIn(lab, lab.operatorToken, `/machines/${target.name}`);
    t.after(() => operator.context.close());
    const op = operator.page;
    await op.selectOption('#profile', 'rescue');
    await op.check('#nextboot-form input[name=once]');
    // The form answers in place (static/live.js): wait for its answer, not a navigation.
    await op.click('#nextboot-form button[type=submit]');
    await op.locator('[data-flash]', { hasText: `Next boot of ${target.name} is now rescue, once (then local).` }).waitFor({ timeout: 30_000 });
    assert.equal(await op.textContent('#next-boot'), 'rescue once');
    const stored = await anvil.services.machines.byName(target.name);
    assert.equal(stored?.next_profile, 'rescue');
    assert.equal(stored?.next_once, 1);
    assert.match((await op.locator('table.timeline tbody tr').first().textContent()) ?? '', /next boot set.*operator otto \(web\) \(once\)/);

    await op.selectOption('#test', ['hello', 'webcheck']);
    await op.click('#tests-form button[type=submit]');
    await op.locator('[data-flash]', { hasText: new RegExp(`^Queued hello, webcheck on ${target.name} \\(runs \\d+, \\d+\\)`) }).waitFor({ timeout: 30_000 });
    const queued = (await anvil.services.testing.runsOf(machine.id)).slice(0, 2);
    assert.deepEqual(
      queued.map((r) => [r.test, r.state]),
      [
        ['webcheck', 'requested'],
        ['hello', 'requested'],
      ],
    );
    assert.match((await op.locator('table.runs tbody tr').first().textContent()) ?? '', /webcheck\s*requested/);

    const forged = await op.request.post(`/machines/${target.name}/nextboot`, { form: { profile: 'install' } });
    assert.equal(forged.status(), 403);
    assert.match(await forged.text(), /security token/);
    assert.equal((await anvil.services.machines.byName(target.name))?.next_profile, 'rescue');
  });

  await t.test('signing out ends the session: the browser forgets it and the server no longer takes it', async () => {
    const [session] = await context.cookies();
    await page.goto('/versions');
    await Promise.all([page.waitForURL('**/login'), page.click('.signout button')]);
    assert.equal((await context.cookies()).length, 0);
    await page.goto('/versions');
    assert.equal(new URL(page.url()).pathname, '/login');
    // A copy of the cookie taken before (a stolen one) is useless too.
    await context.addCookies([session!]);
    await page.goto('/versions');
    assert.equal(new URL(page.url()).pathname, '/login');
  });
});
