// The browser console of an IPMI machine: SOL of anvil's BMC emulator (the one `anvil bmc fake`
// serves, here in-process; its console echoes each character and then the whole line) reaches
// an operator's WebSocket and what is typed reaches the emulator's serial port. One browser at
// a time unless it takes over; taking over also ends another client's SOL on the BMC; closing
// the socket deactivates SOL and closes the session. The password never shows.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { testAnvil, type TestAnvil } from '../helpers/anvil-inproc.ts';
import { connectConsole } from '../helpers/console-socket.ts';
import { PASSWORD, USER, startEmulator, type Emulator } from '../ipmi/emulator-helpers.ts';
import { IpmiClient } from '../../src/protocols/ipmi/client/client.ts';
import { SolConsole } from '../../src/protocols/ipmi/client/sol.ts';

const MACHINE = 'solbox1';

async function solAnvil(t: TestContext): Promise<{ a: TestAnvil; emulator: Emulator }> {
  const emulator = await startEmulator(t);
  const a = await testAnvil(t, { powerSync: false });
  await a.services.machines.add(MACHINE, ['52:54:00:c0:50:01']);
  await a.services.control.configure(MACHINE, {
    driver: 'ipmi',
    driverInfo: { ipmi_address: '127.0.0.1', ipmi_port: emulator.port, ipmi_username: USER, ipmi_password: PASSWORD },
    replace: true,
  });
  return { a, emulator };
}

/** Waits for a condition of the emulator, polled (it has no events to wait on). */
async function eventually(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('an operator types into an IPMI machine over SOL in the browser and sees its output', { timeout: 300_000 }, async (t) => {
  const { a, emulator } = await solAnvil(t);
  const operator = (await a.services.tokens.create('operator', 'otto')).token;
  const c = connectConsole(a, MACHINE, operator);
  await c.until('the console to open', () => c.statuses.length > 0);
  assert.deepEqual(c.statuses, [`connected to ${MACHINE}'s console`]);
  assert.equal(emulator.server.stats().activeSessions, 1, 'one session, for SOL');
  c.ws.send(new TextEncoder().encode('hello web\r'));
  await c.until('the emulator to echo the line', () => c.bytes().includes('anvil-console[ANVIL0001]: hello web'));
  assert.ok(c.bytes().startsWith('hello web'), 'the characters were echoed one by one before the line');

  c.ws.close();
  await c.until('the close', () => c.closed() !== undefined);
  // Closing the socket deactivates SOL and closes the IPMI session.
  await eventually('the SOL session to be closed', () => emulator.server.stats().activeSessions === 0);
  const events = await a.services.control.events(MACHINE);
  assert.ok(events.some((e) => e.message.includes('console opened by otto')));
  assert.ok(!JSON.stringify(events).includes(PASSWORD), 'no event holds the password');
});

test('a second browser is refused unless it takes over; the console moves to it', { timeout: 300_000 }, async (t) => {
  const { a, emulator } = await solAnvil(t);
  const otto = (await a.services.tokens.create('operator', 'otto')).token;
  const olga = (await a.services.tokens.create('operator', 'olga')).token;
  const first = connectConsole(a, MACHINE, otto);
  await first.until('the first console', () => first.statuses.length > 0);
  const second = connectConsole(a, MACHINE, olga);
  await second.until('the refusal', () => second.closed() !== undefined);
  assert.equal(second.closed()?.code, 4409);
  assert.match(second.statuses.join('\n'), /otto has this console open; take it over/);

  const third = connectConsole(a, MACHINE, olga, '?takeover=1');
  await first.until('being taken over', () => first.closed() !== undefined);
  assert.equal(first.closed()?.code, 4001);
  assert.match(first.statuses.join('\n'), /olga took over this console/);
  await third.until('the console', () => third.statuses.includes(`connected to ${MACHINE}'s console`));
  third.ws.send(new TextEncoder().encode('taken\r'));
  await third.until('the echo', () => third.bytes().includes('anvil-console[ANVIL0001]: taken'));
  // The first browser's SOL session was ended before the second's opened.
  await eventually('one session left', () => emulator.server.stats().activeSessions === 1);
  third.ws.close();
  await eventually('the SOL session to be closed', () => emulator.server.stats().activeSessions === 0);
});

test('SOL held by another client on the BMC: refused without takeover, ended with it', { timeout: 300_000 }, async (t) => {
  const { a, emulator } = await solAnvil(t);
  const port = emulator.port;
  const other = new IpmiClient();
  t.after(() => other.close());
  const held = await SolConsole.activate(other.bmc({ host: '127.0.0.1', port, user: USER, password: PASSWORD, privilege: 4, protocol: 'lanplus' }), {
    ownerCheckMs: 200,
  });
  const ended = new Promise<string>((resolve) => held.once('deactivated', resolve));
  const operator = (await a.services.tokens.create('operator', 'otto')).token;

  const refused = connectConsole(a, MACHINE, operator);
  await refused.until('the refusal', () => refused.closed() !== undefined);
  assert.equal(refused.closed()?.code, 4502);
  assert.match(refused.statuses.join('\n'), /machine 'solbox1': SOL is already active in another session on the BMC; take the console over/);
  assert.ok(!refused.statuses.join('\n').includes(PASSWORD));

  const taking = connectConsole(a, MACHINE, operator, '?takeover=1');
  await taking.until('the console', () => taking.statuses.includes(`connected to ${MACHINE}'s console`));
  assert.match(await ended, /another client|deactivated/);
  taking.ws.send(new TextEncoder().encode('mine\r'));
  await taking.until('the echo', () => taking.bytes().includes('anvil-console[ANVIL0001]: mine'));
  taking.ws.close();
  await taking.until('the close', () => taking.closed() !== undefined);
});
