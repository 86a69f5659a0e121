import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bmcReset, decodeDeviceId, decodeGuid } from './device.ts';

const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

test('device id: 15-byte answer from ipmi_sim (MontaVista 4753, product 0xf02)', () => {
  const d = decodeDeviceId(bytes('00 03 09 08 02 9f 91 12 00 02 0f 00 00 00 00'));
  assert.equal(d.deviceRevision, 3);
  assert.equal(d.firmwareMajor, 9);
  assert.equal(d.firmwareMinor, 8);
  assert.equal(d.ipmiVersion, '2.0');
  assert.equal(d.manufacturerId, 4753);
  assert.equal(d.productId, 0x0f02);
  assert.equal(d.available, true);
  assert.deepEqual(d.support, ['Sensor Device', 'SDR Repository Device', 'SEL Device', 'FRU Inventory Device', 'IPMB Event Receiver', 'Chassis Device']);
  assert.deepEqual([...(d.auxFirmware ?? [])], [0, 0, 0, 0]);
});

test('device id: 11 bytes, BCD minor, IPMI 1.5; 14-byte pyghmi layout; bad lengths', () => {
  const d = decodeDeviceId(bytes('20 81 81 25 51 00 a2 02 00 34 12'));
  assert.equal(d.providesSdrs, true);
  assert.equal(d.available, false);
  assert.equal(d.firmwareMinor, 25);
  assert.equal(d.ipmiVersion, '1.5');
  assert.equal(d.manufacturerId, 674);
  assert.equal(d.productId, 0x1234);
  const p = decodeDeviceId(bytes('00 00 00 00 02 00 7c 2a 00 00 02 00 00 00'));
  assert.equal(p.manufacturerId, 10876);
  assert.equal(p.productId, 2);
  assert.throws(() => decodeDeviceId(bytes('00 00 00 00 02 00 00 00 00 00 00 00')), { code: 'IPMI_DECODE' });
});

test('guid is printed bytes-reversed, as ipmitool does', () => {
  assert.equal(decodeGuid(bytes('a123456789abcdefa123456789abcdef')), 'efcdab89-6745-23a1-efcd-ab89674523a1');
});

test('resets are not idempotent', () => {
  assert.equal(bmcReset('cold').cmd, 2);
  assert.equal(bmcReset('warm').cmd, 3);
  assert.equal(bmcReset('warm').idempotent, false);
});
