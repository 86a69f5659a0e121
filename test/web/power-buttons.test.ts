// Operators power a machine and set its boot device from its page; the buttons go through
// the driver under the machine's lock, and the page shows the new state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { havePeers } from '../helpers/peers.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { testAnvil } from '../helpers/anvil-inproc.ts';

test('power and boot-device buttons on the machine page', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, CHROMIUM)) return;
  const a = await testAnvil(t, { powerSync: false });
  await a.services.machines.add('srv1', ['52:54:00:00:00:31']);
  const r = await a.api('/api/v1/machines/srv1', { method: 'PATCH', json: { driver: 'fake', driver_info: {} } });
  assert.equal(r.status, 200, await r.text());
  await a.services.machines.add('desk1', ['52:54:00:00:00:32']);
  const operator = (await a.services.tokens.create('operator', 'otto')).token;
  const viewer = (await a.services.tokens.create('viewer', 'vera')).token;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const signIn = async (token: string) => {
    const page = await (await browser.newContext({ baseURL: a.url })).newPage();
    await page.goto('/machines/srv1');
    await page.fill('#token', token);
    await Promise.all([page.waitForURL((url) => url.pathname === '/machines/srv1'), page.click('button[type=submit]')]);
    return page;
  };

  const page = await signIn(operator);
  // The forms answer in place (static/live.js): wait for the answer, not a navigation.
  const act = async (button: string, answer: RegExp) => {
    await page.click(button);
    await page.locator('[data-flash]', { hasText: answer }).waitFor({ timeout: 30_000 });
  };
  await act('#power-form button[value=on]', /Power on done: srv1 is now on/);
  assert.equal((await a.services.control.powerState('srv1')).powerState, 'on');
  assert.match(await page.locator('dl.facts').innerText(), /Power\s+on/);
  await page.selectOption('#device', 'pxe');
  await page.check('#bootdev-form input[name=persistent]');
  await act('#bootdev-form button[type=submit]', /srv1 boots from pxe from now on/);
  const boot = await a.services.control.bootDevice('srv1');
  assert.equal(boot.device, 'pxe');
  assert.equal(boot.persistent, true);
  await act('#power-form button[value=off]', /Power off done: srv1 is now off/);
  assert.match(await page.locator('dl.facts').innerText(), /Power\s+off/);
  await page.screenshot({ path: join(a.data, 'power-answer.png'), fullPage: true });
  console.log(`screenshot: ${a.data}/power-answer.png`);
  assert.equal((await a.services.control.powerState('srv1')).powerState, 'off');

  // A machine without a controller has no buttons; neither does a viewer.
  await page.goto('/machines/desk1');
  assert.equal(await page.locator('#power-form').count(), 0);
  const viewerPage = await signIn(viewer);
  assert.equal(await viewerPage.locator('#power-form').count(), 0);
});
