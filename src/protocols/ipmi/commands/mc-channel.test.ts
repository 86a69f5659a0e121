// Codecs of Get Watchdog Timer, Get Self Test Results, Get Channel Info/Access, Get Session
// Info and Set Power Restore Policy, fed the bytes real BMCs answered (ipmi_sim, anvil bmc fake).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeChannelAccess, decodeChannelInfo, decodeSessionInfo } from './channel.ts';
import { decodePowerRestorePolicySupport, setPowerRestorePolicy } from './chassis.ts';
import { decodeSelfTestResults, decodeWatchdogTimer } from './mc.ts';

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/ /g, ''), 'hex'));

test("Get Watchdog Timer: 8 bytes, and ipmi_sim's 6 without the present countdown", () => {
  assert.deepEqual(decodeWatchdogTimer(bytes('04 01 00 00 b8 0b 10 00')), {
    use: 4,
    action: 1,
    preTimeout: 0,
    expirationFlags: 0,
    initialCountdown: 3000,
    presentCountdown: 16,
  });
  assert.equal(decodeWatchdogTimer(bytes('00 00 00 00 00 00')).presentCountdown, undefined);
  assert.throws(() => decodeWatchdogTimer(bytes('00 00')), /expected at least 6/);
  assert.deepEqual(decodeSelfTestResults(bytes('57 a0')), { code: 0x57, detail: 0xa0 });
});

test('Get Channel Info, Get Channel Access and Get Session Info as ipmi_sim answers them', () => {
  assert.deepEqual(decodeChannelInfo(bytes('01 04 01 81 f2 1b 00 00 00')), {
    channel: 1,
    medium: 4,
    protocol: 1,
    sessionSupport: 'multi-session',
    activeSessions: 1,
    vendorId: 7154,
  });
  assert.deepEqual(decodeChannelAccess(bytes('22 04')), {
    alertingDisabled: true,
    perMessageAuthDisabled: false,
    userLevelAuthDisabled: false,
    accessMode: 2,
    privilegeLimit: 4,
  });
  assert.deepEqual(decodeSessionInfo(bytes('01 3f 01 02 04 11')), {
    handle: 1,
    slotCount: 63,
    activeSessions: 1,
    session: { userId: 2, privilege: 4, protocol: 1, channel: 1 },
  });
  const lan = decodeSessionInfo(bytes('01 08 01 02 04 11 7f 00 00 01 52 54 00 12 34 56 e1 77'));
  assert.deepEqual(lan.session?.lan, { ip: '127.0.0.1', mac: '52:54:00:12:34:56', port: 0x77e1 });
  assert.deepEqual(decodeSessionInfo(bytes('00 08 00')), { handle: 0, slotCount: 8, activeSessions: 0 });
});

test('Set Power Restore Policy: the policy byte, and the supported set in the answer', () => {
  assert.deepEqual(Array.from(setPowerRestorePolicy('no-change').data), [3]);
  assert.deepEqual(Array.from(setPowerRestorePolicy('always-on').data), [2]);
  assert.deepEqual(decodePowerRestorePolicySupport(bytes('07')), ['always-off', 'always-on', 'previous']);
  assert.deepEqual(decodePowerRestorePolicySupport(bytes('04')), ['always-on']);
});
