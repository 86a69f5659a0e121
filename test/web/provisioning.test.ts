// The provisioning parts of the pages, in Chromium: the images page, and a machine page whose
// buttons follow the state table (deploy with an image, abort, undeploy), with the deploy's
// state, progress and error shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { havePeers } from '../helpers/peers.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { tempDir } from '../helpers/anvil-process.ts';

test('images page, and deploy, progress, abort and undeploy on the machine page', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, CHROMIUM)) return;
  const agentBuild = tempDir();
  mkdirSync(agentBuild, { recursive: true });
  writeFileSync(join(agentBuild, 'vmlinuz'), 'k');
  writeFileSync(join(agentBuild, 'initrd.gz'), 'i');
  const a = await testAnvil(t, { powerSync: false, agentBuild });
  await a.services.machines.add('web1', ['52:54:00:e0:00:01']);
  assert.equal((await a.api('/api/v1/machines/web1', { method: 'PATCH', json: { driver: 'fake' } })).status, 200);
  const disk = randomBytes(2 << 20);
  assert.equal((await a.api('/api/v1/images/b%40d', { method: 'PUT', body: new Uint8Array(disk) })).status, 400, 'names are checked');
  assert.equal((await a.api('/api/v1/images/tiny?notes=%3Cscript%3Ealert(1)%3C%2Fscript%3E', { method: 'PUT', body: new Uint8Array(disk) })).status, 201);

  const operator = (await a.services.tokens.create('operator', 'otto')).token;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await (await browser.newContext({ baseURL: a.url })).newPage();
  await page.goto('/images');
  await page.fill('#token', operator);
  await Promise.all([page.waitForURL('**/images'), page.click('button[type=submit]')]);
  const row = await page.locator('table.images tbody tr').innerText();
  assert.match(row, /tiny\s+raw\s+2\.0 MiB\s+2\.0 MiB\s+2\s+[0-9a-f]{16}…\s+upload/);
  assert.match(row, /<script>alert\(1\)<\/script>/, 'notes shown as text');

  await page.goto('/machines/web1');
  const buttons = async () => page.locator('#provision-form button').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
  assert.deepEqual(await buttons(), ['manage', 'deploy']);
  await page.selectOption('#image', 'tiny');
  // The forms answer in place (static/live.js): wait for the answer, not a navigation.
  const act = async (button: string, answer: RegExp) => {
    await page.click(`#provision-form button[value=${button}]`);
    await page.locator('[data-flash]', { hasText: answer }).waitFor({ timeout: 30_000 });
  };
  await act('deploy', /Deploy of tiny to web1 started: provision state wait-callback/);
  assert.match(await page.locator('#provision-state').innerText(), /wait-callback/);
  assert.match(await page.locator('#deployment').innerText(), /deploy of tiny: wait-callback \(boot\) · started .* by operator otto \(web\)/);
  assert.deepEqual(await buttons(), ['abort']);

  // The agent reports progress; the page shows it.
  const token = /anvil\.token=(\S+)/.exec(await (await fetch(`${a.url}/boot/52:54:00:e0:00:01`)).text())![1]!;
  const agent = (path: string, body: string) => fetch(`${a.url}/agent/v1/${path}`, { method: 'POST', headers: { 'x-anvil-token': token }, body });
  await agent('hello', `mac=52:54:00:e0:00:01\ndisk=vda\ndisk.vda.size=${1 << 30}\n`);
  await agent('progress', `phase=write\nbytes=${1 << 20}\n`);
  // No reload: the page follows the deploy as the agent reports it.
  await page.locator('#deploy-progress').waitFor({ timeout: 30_000 });
  await page.locator('#deployment', { hasText: '50% · 1.0 MiB of 2.0 MiB' }).waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('#deploy-progress').getAttribute('value'), String(1 << 20));
  assert.match(await page.locator('#deployment').innerText(), /50% · 1\.0 MiB of 2\.0 MiB/);

  await act('abort', /Abort of web1 accepted: provision state deploy-failed/);
  assert.match(await page.locator('#provision-state').innerText(), /deploy-failed/);
  assert.match(await page.locator('#provision-error').innerText(), /aborted by operator otto \(web\)/);
  assert.deepEqual(await buttons(), ['manage', 'deploy', 'undeploy']);
  await act('undeploy', /Undeploy of web1 accepted: provision state available/);
  assert.match(await page.locator('#provision-state').innerText(), /^available/);
  await page.screenshot({ path: join(a.data, 'machine-page.png'), fullPage: true });
});
