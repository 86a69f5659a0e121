// The browser console over a WebSocket: an operator's socket reaches a lab VM's console as
// `lab up` shares it (here the share serves a stand-in console instead of QEMU's serial port),
// bytes go both ways; a viewer, no session, another origin and a machine that is not the VM
// are refused; a second browser is refused unless it takes over, and the first is told so.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Duplex } from 'node:stream';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { testAnvil, type TestAnvil } from '../helpers/anvil-inproc.ts';
import { havePeers } from '../helpers/peers.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { connectConsole } from '../helpers/console-socket.ts';
import { LabStore } from '../../src/lab/store.ts';
import { shareConsole } from '../../src/lab/console-share.ts';

const VM = 'labcon1';

/** A console that prints a banner and records what it is sent. */
class FakeConsole extends Duplex {
  readonly received: Buffer[] = [];
  constructor() {
    super();
    this.push('anvil-test login: ');
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.received.push(chunk);
    // An echo, as a terminal's line discipline does.
    this.push(Buffer.concat([Buffer.from('echo:'), chunk]));
    done();
  }
}

async function labAnvil(t: TestContext): Promise<{ a: TestAnvil; consoles: FakeConsole[] }> {
  const a = await testAnvil(t, { powerSync: false });
  const store = new LabStore(a.data);
  const def = await store.create({
    name: VM,
    mac: '52:54:00:c0:00:01',
    diskSize: null,
    bmc: { kind: 'ipmi', address: '127.0.0.1', ipmiPort: 16231, amtPort: 0, user: 'admin', password: 'console-test-pw' },
  });
  await a.services.machines.add(VM, [def.mac]);
  // As `lab vm create --enroll` writes it.
  await a.services.control.configure(VM, {
    driver: 'ipmi',
    driverInfo: { ipmi_address: '127.0.0.1', ipmi_port: 16231, ipmi_username: 'admin', ipmi_password: 'console-test-pw' },
    replace: true,
  });
  const { mkdir } = await import('node:fs/promises');
  await mkdir(store.runDir(VM), { recursive: true });
  const consoles: FakeConsole[] = [];
  const share = await shareConsole(store.consoleSocket(VM), () => {
    const c = new FakeConsole();
    consoles.push(c);
    return c;
  });
  t.after(() => share.close());
  return { a, consoles };
}

/** A WebSocket client of the lab VM's console. */
function connect(a: TestAnvil, token: string, query = '') {
  return connectConsole(a, VM, token, query);
}

/** The status of an upgrade request, as a browser would send it. */
function upgradeStatus(a: TestAnvil, headers: Record<string, string>, path = `/machines/${VM}/console/ws`): Promise<number> {
  const url = new URL(a.url);
  return new Promise((resolve, reject) => {
    // A fresh connection each time: a refused upgrade's connection is closed after its answer.
    const req = httpRequest({
      agent: false,
      host: url.hostname,
      port: url.port,
      path,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('an operator types into a lab VM console over the WebSocket and sees its output', { timeout: 300_000 }, async (t) => {
  const { a, consoles } = await labAnvil(t);
  const operator = (await a.services.tokens.create('operator', 'otto')).token;
  const c = connect(a, operator);
  await c.until('the banner', () => c.bytes().includes('anvil-test login: '));
  assert.deepEqual(c.statuses, [`connected to ${VM}'s console`]);
  c.ws.send(new TextEncoder().encode('root\r'));
  await c.until('the echo', () => c.bytes().includes('echo:root\r'));
  assert.equal(Buffer.concat(consoles[0]!.received).toString(), 'root\r');
  // Bytes that are not UTF-8 pass unchanged both ways.
  c.ws.send(new Uint8Array([0x1b, 0xff, 0x00]));
  await c.until('the raw bytes', () => c.bytes().includes('echo:\x1b\xff\x00'));
  c.ws.close();
  await c.until('the close', () => c.closed() !== undefined);
});

test('viewers, no session and other origins are refused before the upgrade', { timeout: 300_000 }, async (t) => {
  const { a, consoles } = await labAnvil(t);
  const operator = (await a.services.tokens.create('operator', 'otto')).token;
  const viewer = (await a.services.tokens.create('viewer', 'vera')).token;
  assert.equal(await upgradeStatus(a, { origin: a.url }), 401);
  assert.equal(await upgradeStatus(a, { origin: a.url, authorization: `Bearer ${viewer}` }), 403);
  assert.equal(await upgradeStatus(a, { origin: 'http://evil.example', authorization: `Bearer ${operator}` }), 403);
  assert.equal(await upgradeStatus(a, { authorization: `Bearer ${operator}` }), 403, 'no Origin at all');
  assert.equal(consoles.length, 0, 'no refused socket opened the console');
  assert.equal(await upgradeStatus(a, { origin: a.url, authorization: `Bearer ${operator}` }), 101);

  // The page too is for operators only.
  const page = (token: string) => fetch(`${a.url}/machines/${VM}/console`, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });
  assert.equal((await page(viewer)).status, 403);
  const ok = await page(operator);
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /data-console-socket="\/machines\/labcon1\/console\/ws"/);
  assert.match(ok.headers.get('content-security-policy') ?? '', new RegExp(`connect-src 'self' ws://${new URL(a.url).host} wss://`));
});

test('a machine that is not the lab VM, with a driver that has no console, has none', { timeout: 300_000 }, async (t) => {
  const { a, consoles } = await labAnvil(t);
  // Same name, but not controlled as the VM of this lab (an IPMI machine elsewhere would get SOL: console-sol.test.ts).
  await a.services.control.configure(VM, { driver: 'manual', driverInfo: {}, replace: true });
  const operator = (await a.services.tokens.create('operator', 'otto')).token;
  const c = connect(a, operator);
  await c.until('the close', () => c.closed() !== undefined);
  assert.equal(c.closed()?.code, 4502);
  assert.match(c.statuses.join('\n'), /machine labcon1 \(driver manual\) has no console anvil can open/);
  assert.equal(consoles.length, 0);
});

test('a second browser is refused unless it takes over; the first is told who took it', { timeout: 300_000 }, async (t) => {
  const { a } = await labAnvil(t);
  const otto = (await a.services.tokens.create('operator', 'otto')).token;
  const olga = (await a.services.tokens.create('operator', 'olga')).token;
  const first = connect(a, otto);
  await first.until('the banner', () => first.bytes().includes('login: '));
  const second = connect(a, olga);
  await second.until('the refusal', () => second.closed() !== undefined);
  assert.equal(second.closed()?.code, 4409);
  assert.match(second.statuses.join('\n'), /otto has this console open; take it over/);
  assert.equal(first.closed(), undefined, 'the first keeps its console');

  const third = connect(a, olga, '?takeover=1');
  await third.until('the banner', () => third.bytes().includes('login: '));
  await first.until('being taken over', () => first.closed() !== undefined);
  assert.equal(first.closed()?.code, 4001);
  assert.match(first.statuses.join('\n'), /olga took over this console/);
  third.ws.send(new TextEncoder().encode('x'));
  await third.until('the echo', () => third.bytes().includes('echo:x'));
  third.ws.close();
});

test('in Chromium, the console page shows the console and sends what is typed', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, CHROMIUM)) return;
  const { a, consoles } = await labAnvil(t);
  const operator = (await a.services.tokens.create('operator', 'otto')).token;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await (await browser.newContext({ baseURL: a.url })).newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    // The browser asks for /favicon.ico, which anvil does not have.
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) problems.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`/machines/${VM}`);
  await page.fill('#token', operator);
  await Promise.all([page.waitForURL((url) => url.pathname === `/machines/${VM}`), page.click('button[type=submit]')]);
  await Promise.all([page.waitForURL((url) => url.pathname === `/machines/${VM}/console`), page.click('#console-link')]);
  await page.locator('#console', { hasText: 'anvil-test login:' }).waitFor({ timeout: 60_000 });
  await page.locator('#console-status', { hasText: `connected to ${VM}'s console` }).waitFor({ timeout: 60_000 });
  await page.click('#console');
  await page.keyboard.type('root');
  await page.keyboard.press('Enter');
  await page.locator('#console', { hasText: 'echo:t' }).waitFor({ timeout: 60_000 });
  await page.screenshot({ path: join(a.data, 'console.png'), fullPage: true });
  console.log(`screenshot: ${a.data}/console.png`);
  assert.equal(Buffer.concat(consoles[0]!.received).toString(), 'root\r');
  assert.deepEqual(problems, [], 'no CSP or script errors');

  // A second tab is refused and offered the takeover; taking over moves the console to it.
  const second = await page.context().newPage();
  await second.goto(`/machines/${VM}/console`);
  await second.locator('#console-status', { hasText: 'otto has this console open' }).waitFor({ timeout: 60_000 });
  await second.click('#console-takeover');
  await second.locator('#console', { hasText: 'anvil-test login:' }).waitFor({ timeout: 60_000 });
  await page.locator('#console-status', { hasText: 'otto took over this console' }).waitFor({ timeout: 60_000 });
});
