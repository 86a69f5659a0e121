// Serial-over-LAN against ipmi_sim, whose serial port is a TCP connection to this test:
// characters both ways, and a takeover by a second client noticed by the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { IpmiClient } from '../../src/protocols/ipmi/client/client.ts';
import { SolConsole } from '../../src/protocols/ipmi/client/sol.ts';
import { havePeers } from '../helpers/peers.ts';
import { startIpmiSim } from './client-peers.ts';

const WAIT_MS = 10_000;

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS).unref())]);
}

test('SOL on ipmi_sim: console output, typed input, and a takeover by another client', async (t) => {
  if (!havePeers(t, 'ipmi_sim')) return;
  const serial = createServer();
  const connected = new Promise<Socket>((resolve) => serial.once('connection', resolve));
  serial.listen(0, '127.0.0.1');
  await once(serial, 'listening');
  t.after(() => serial.close());
  const address = serial.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  const sim = await startIpmiSim(t, { solTcpPort: address.port });
  const line = await within(connected, 'ipmi_sim to connect its serial port');
  t.after(() => line.destroy());

  const first = new IpmiClient();
  t.after(() => first.close());
  const console1 = await SolConsole.activate(first.bmc(sim.target()), { ownerCheckMs: 200 });
  let shown = '';
  const sawOutput = new Promise<void>((resolve) => console1.on('data', (d) => (shown += d.toString()).includes('login:') && resolve()));
  line.write('anvil-test login: ');
  await within(sawOutput, 'serial output on the console');

  let typed = '';
  const sawInput = new Promise<void>((resolve) => line.on('data', (d: Buffer) => (typed += d.toString()).includes('root\r') && resolve()));
  console1.write('root\r');
  await within(sawInput, 'typed characters on the serial port');

  // A second client forces its way in; the first console must say so rather than hang.
  const deactivated = new Promise<string>((resolve) => console1.once('deactivated', resolve));
  const second = new IpmiClient();
  t.after(() => second.close());
  const console2 = await SolConsole.activate(second.bmc(sim.target()), { force: true });
  const reason = await within(deactivated, 'the first console to notice the takeover');
  assert.match(reason, /another client|deactivated/);
  assert.equal(console1.closed, true);
  await console2.close();
});
