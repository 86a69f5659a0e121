// The request payloads of the writes behind `user priv`, `lan set`, `sensor thresh` and the
// reads of `sol info`, as ipmitool sends them (lib/ipmi_user.c, ipmi_lanp.c, ipmi_sensor.c, ipmi_sol.c).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setUserPrivilege } from './users.ts';
import { decodeChannelAccess, setChannelAccess } from './channel.ts';
import { convertReading, convertSpan, decodeSensorEventBits, setSensorThresholds, valueToRaw } from './sdr.ts';
import type { Conversion } from './sdr.ts';
import {
  decodeSolAuthentication,
  decodeSolCharacterInterval,
  decodeSolConfig,
  decodeSolPayloadPort,
  decodeSolRetry,
  getSolConfig,
  SolParam,
} from './sol-config.ts';

const hex = (d: Uint8Array) => Buffer.from(d).toString('hex');

test('user priv: Set User Access with bit 7 clear, so only the privilege limit changes', () => {
  const r = setUserPrivilege(3, 4, 1);
  assert.equal(r.cmd, 0x43);
  assert.equal(hex(r.data), '01030400');
  assert.equal(hex(setUserPrivilege(5, 0x0f).data), '0e050f00');
  assert.throws(() => setUserPrivilege(3, 0), RangeError);
  assert.throws(() => setUserPrivilege(3, 6), RangeError);
});

test('Set Channel Access: access mode and privilege limit into one of the two sets', () => {
  const current = decodeChannelAccess(Uint8Array.from([0x22, 0x04]));
  assert.equal(current.alertingDisabled, true);
  const on = setChannelAccess(1, 'non-volatile', { ...current, accessMode: 2, privilegeLimit: 4 });
  assert.equal(on.cmd, 0x40);
  assert.equal(hex(on.data), '016244');
  const off = setChannelAccess(1, 'volatile', { ...current, accessMode: 0, privilegeLimit: 4 });
  assert.equal(hex(off.data), '01a084');
});

test('Set Sensor Thresholds: the mask says which of the six bytes count', () => {
  const r = setSensorThresholds(0x30, { ucr: 90 });
  assert.equal(r.cmd, 0x26);
  assert.equal(hex(r.data), '3010000000005a00');
  assert.equal(hex(setSensorThresholds(7, { lnc: 1, unr: 0xff }).data), '07210100000000ff');
  assert.throws(() => setSensorThresholds(1, { unc: 256 }), RangeError);
});

test('valueToRaw inverts the linear conversion, rounding half up as ipmitool', () => {
  const volts: Conversion = { format: 'unsigned', linearization: 'linear', m: 6, b: 0, bExp: 0, rExp: -2 };
  assert.equal(valueToRaw(12, volts), 200);
  assert.equal(convertReading(valueToRaw(12.6, volts), volts), 12.6);
  assert.equal(valueToRaw(12.03, volts), 201); // 200.5 rounds up
  assert.equal(valueToRaw(12.02, volts), 200); // 200.33 rounds down
  const offset: Conversion = { format: 'unsigned', linearization: 'linear', m: 1, b: 5, bExp: 1, rExp: 0 };
  assert.equal(valueToRaw(80, offset), 30);
  assert.equal(valueToRaw(1, { ...volts, m: 0 }), 0);
});

test('SOL configuration parameters', () => {
  assert.equal(hex(getSolConfig(SolParam.retry, 1).data), '01040000');
  assert.equal(hex(getSolConfig(SolParam.enable).data), '0e010000');
  const auth = decodeSolAuthentication(decodeSolConfig(Uint8Array.from([0x11, 0xc2])));
  assert.deepEqual(auth, { forceEncryption: true, forceAuthentication: true, privilege: 2 });
  assert.deepEqual(decodeSolCharacterInterval(Uint8Array.from([0x0c, 0x60])), { accumulateMs: 60, sendThreshold: 96 });
  assert.deepEqual(decodeSolRetry(Uint8Array.from([7, 50])), { count: 7, intervalMs: 500 });
  assert.equal(decodeSolPayloadPort(Uint8Array.from([0x6f, 0x02])), 623);
  assert.throws(() => decodeSolRetry(Uint8Array.from([7])), /SOL retry/);
});

test('tolerance and hysteresis in the units of the reading; event status bytes kept as they came', () => {
  const volts: Conversion = { format: 'unsigned', linearization: 'linear', m: 6, b: 5, bExp: 0, rExp: -2 };
  assert.equal(convertSpan(3, volts, true), 0.09); // a tolerance counts half steps, and has no B
  assert.equal(convertSpan(3, volts, false), 0.18);
  assert.equal(convertSpan(0xff, { ...volts, format: 'twos-complement' }, false), -0.06);
  assert.equal(convertSpan(3, { ...volts, format: 'none' }, false), 0);
  const status = decodeSensorEventBits(Uint8Array.from([0xc0, 0x80, 0x02]), 'Get Sensor Event Status');
  assert.deepEqual(status, { eventMessagesDisabled: false, scanningDisabled: false, unavailable: false, bytes: [0x80, 0x02] });
  assert.equal(decodeSensorEventBits(Uint8Array.from([0x20]), 'x').eventMessagesDisabled, true);
  assert.equal(decodeSensorEventBits(Uint8Array.from([0x20]), 'x').unavailable, true);
  assert.throws(() => decodeSensorEventBits(new Uint8Array(0), 'Get Sensor Event Enable'), /Get Sensor Event Enable/);
});
