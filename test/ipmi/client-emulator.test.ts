// The IPMI client against anvil's own BMC emulator (bin/anvil bmc fake, in another process):
// the SHA-256 suites no third-party peer here runs (ipmi_sim stops at SHA-1, pyghmi grants 3),
// and the write paths: user name/password, LAN parameters, SEL time, BMC reset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { IpmiClient } from '../../src/protocols/ipmi/client/client.ts';
import { SolConsole } from '../../src/protocols/ipmi/client/sol.ts';
import { LanParam, encodeIpv4, ipv4 } from '../../src/protocols/ipmi/commands/lan.ts';
import { freeUdpPort } from '../helpers/ports.ts';

const ANVIL = join(import.meta.dirname, '../../bin/anvil');

test('anvil bmc fake: suites 17, 16, 15, 3, 2, 1; users, LAN, SEL time, SOL echo, warm reset', async (t) => {
  const port = await freeUdpPort();
  const emulator = spawn(ANVIL, ['bmc', 'fake', '--port', String(port)], {
    env: { ...process.env, IPMI_PASSWORD: 'password' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => emulator.once('exit', resolve));
  t.after(async () => {
    emulator.kill('SIGTERM');
    await exited;
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${seen}`)), 20_000);
    emulator.stdout.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(`listening on 127.0.0.1:${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const client = new IpmiClient({ policy: { timeoutMs: 500, retries: 2 } });
  t.after(() => client.close());
  const target = { host: '127.0.0.1', port, user: 'admin', password: 'password' };
  for (const cipherSuite of [17, 16, 15, 3, 2, 1]) {
    const bmc = client.bmc({ ...target, cipherSuite });
    assert.equal(await bmc.getPowerState(), 'off', `suite ${cipherSuite}`);
    assert.equal(bmc.session.wire?.version === '2.0' && bmc.session.wire.suite.id, cipherSuite);
    assert.equal(client.sessionCount, 1);
    await bmc.session.close(); // a BMC has few session slots (8 here)
    assert.equal(client.sessionCount, 0, 'a closed session leaves the registry');
  }
  const listed = client.bmc({ ...target, cipherSuite: 'list' });
  await listed.getPowerState();
  assert.equal(listed.session.wire?.version === '2.0' && listed.session.wire.suite.id, 17, 'listed suites, preferred 17');
  await listed.session.close();

  const bmc = client.bmc(target);
  await bmc.setUserName(3, 'operator1');
  await bmc.setUserPassword(3, 'a-20-byte-password!!');
  await bmc.setUserAccess(3, { privilege: 'operator' });
  await bmc.enableUser(3, true);
  assert.equal(await bmc.userName(3), 'operator1');
  assert.equal(await bmc.testUserPassword(3, 'a-20-byte-password!!'), true);
  assert.equal(await bmc.testUserPassword(3, 'wrong'), false);
  const operator = client.bmc({ ...target, user: 'operator1', password: 'a-20-byte-password!!', privilege: 3 });
  assert.equal(await operator.getPowerState(), 'off', 'the new user logs in with a 20-byte password');

  await bmc.setLanParam(LanParam.ipAddress, encodeIpv4('192.0.2.7'));
  assert.equal(ipv4(await bmc.lanParam(LanParam.ipAddress)), '192.0.2.7');
  const when = new Date('2030-01-02T03:04:05Z');
  await bmc.inventory.setSelTime(when);
  const back = await bmc.inventory.selTime();
  assert.ok(Math.abs(back.getTime() - when.getTime()) < 5000, `SEL time ${back.toISOString()}`);

  const sol = await SolConsole.activate(bmc);
  let echoed = '';
  const saw = new Promise<void>((resolve) => sol.on('data', (d) => (echoed += d.toString()).includes('ping-anvil') && resolve()));
  sol.write('ping-anvil\r');
  await saw;
  await sol.close();

  await bmc.bmcReset('warm');
});
