// Serial-over-LAN against the emulator's echoing console: ipmitool `sol activate` and
// FreeIPMI ipmiconsole, each driven through a pty, and a second console taking SOL over.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { havePeers } from '../helpers/peers.ts';
import { PASSWORD, PtySession, USER, ipmitool, startEmulator } from './emulator-helpers.ts';

const ipmitoolSol = (port: number, suite: string) => `ipmitool -I lanplus -C ${suite} -H 127.0.0.1 -p ${port} -U ${USER} -E sol activate`;
const ipmiconsole = (port: number) => `ipmiconsole -h 127.0.0.1:${port} -u ${USER} -p ${PASSWORD}`;

for (const suite of ['3', '17']) {
  test(`ipmitool sol activate (-C ${suite}) exchanges characters and exits on ~.`, async (t) => {
    if (!havePeers(t, 'ipmitool', 'script')) return;
    const { port, server } = await startEmulator(t);
    const sol = new PtySession(ipmitoolSol(port, suite), { IPMI_PASSWORD: PASSWORD });
    t.after(() => sol.kill());
    await sol.waitFor('[SOL Session operational');
    sol.write('hello anvil\r');
    await sol.waitFor('anvil-console[ANVIL0001]: hello anvil');
    // ~B makes ipmitool send a serial break (SOL operation bit 4); the console reports it.
    sol.write('~B');
    await sol.waitFor('<break>');
    sol.write('\r~.');
    assert.equal(await sol.exited, 0);
    assert.match(sol.output, /hello anvil\r\n/, 'characters were echoed one by one over SOL');
    // ipmitool deactivates SOL and closes its session on the way out.
    assert.equal(server.stats().activeSessions, 0);
  });
}

test('ipmiconsole exchanges characters, and is told cleanly when another console takes SOL over', async (t) => {
  if (!havePeers(t, 'ipmiconsole', 'ipmitool', 'script')) return;
  const { port } = await startEmulator(t, {}, true);
  const console1 = new PtySession(ipmiconsole(port));
  t.after(() => console1.kill());
  await console1.waitFor('[SOL established]');
  console1.write('abc\r');
  await console1.waitFor('anvil-console[ANVIL0001]: abc');

  const refused = await ipmitool(port, 'lanplus', ['sol', 'activate']);
  assert.match(refused.stderr, /SOL payload already active on another session/);

  const takeover = await ipmitool(port, 'lanplus', ['sol', 'deactivate']);
  assert.equal(takeover.code, 0, takeover.stderr);
  await console1.waitFor('[SOL session stolen]');
  await console1.exited;

  // SOL is free again for the new console.
  const console2 = new PtySession(ipmitoolSol(port, '3'), { IPMI_PASSWORD: PASSWORD });
  t.after(() => console2.kill());
  await console2.waitFor('[SOL Session operational');
  console2.write('xyz\r');
  await console2.waitFor('anvil-console[ANVIL0001]: xyz');
  console2.write('~.');
  assert.equal(await console2.exited, 0);
});
