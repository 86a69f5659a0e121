// ipmitool -I lan (IPMI 1.5 sessions: ASF ping, challenge, activate) against the emulator,
// with MD5, straight-password and no authentication.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { havePeers } from '../helpers/peers.ts';
import { ipmitool, startEmulator } from './emulator-helpers.ts';

for (const auth of ['MD5', 'PASSWORD', 'NONE'] as const) {
  test(`ipmitool lan -A ${auth}: power, chassis status, bootdev, mc info`, async (t) => {
    if (!havePeers(t, 'ipmitool')) return;
    const { port, handler, server } = await startEmulator(t, { authTypes15: ['md5', 'password', 'none'] });
    const run = (...args: string[]) => ipmitool(port, 'lan', args, ['-A', auth]);
    assert.match((await run('power', 'status')).stdout, /Chassis Power is off/);
    assert.match((await run('power', 'on')).stdout, /Up\/On/);
    assert.equal(handler.power, 'on');
    assert.match((await run('chassis', 'status')).stdout, /System Power\s+: on/);
    assert.match((await run('chassis', 'bootdev', 'disk', 'options=persistent')).stdout, /Set Boot Device to disk/);
    assert.deepEqual([...handler.bootFlags], [0xc0, 0x08, 0, 0, 0]);
    assert.match((await run('mc', 'info')).stdout, /IPMI Version\s+: 2\.0/);
    const session = await run('session', 'info', 'active');
    assert.match(session.stdout, /session type\s+: IPMIv1\.5/);
    assert.match(session.stdout, /console ip\s+: 127\.0\.0\.1/);
    const stats = server.stats();
    assert.equal(stats.badPackets, 0);
    assert.equal(stats.activeSessions, 0);
  });
}

test('ipmitool lan: a wrong password or a disabled auth type gets no session', async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const { port, server } = await startEmulator(t);
  assert.match((await ipmitool(port, 'lan', ['power', 'status'], ['-A', 'MD5'])).stdout, /Chassis Power is off/);
  const wrong = await ipmitool(port, 'lan', ['-P', 'wrong-password', 'power', 'status'], ['-A', 'MD5']);
  assert.notEqual(wrong.code, 0);
  assert.ok(server.stats().authFailures > 0, 'the bad MD5 authcode was counted');
  // "none" is off by default: it would let anyone in without a password.
  const none = await ipmitool(port, 'lan', ['power', 'status'], ['-A', 'NONE']);
  assert.notEqual(none.code, 0);
  assert.equal(server.stats().activeSessions, 0);
});
