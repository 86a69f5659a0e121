import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chassisControl,
  decodeBootFlags,
  decodeChassisStatus,
  decodeSystemBootOptions,
  encodeBootFlags,
  getSystemBootOptions,
  setSystemBootOptions,
  BootParam,
  KEEP_BOOT_FLAGS_PAST_TIMEOUT,
} from './chassis.ts';

const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

test('chassis status: power on, restore previous, last event by command, identify', () => {
  const s = decodeChassisStatus(bytes('21 10 50'));
  assert.equal(s.powerOn, true);
  assert.equal(s.powerRestorePolicy, 'previous');
  assert.deepEqual(s.lastPowerEvent, ['command']);
  assert.equal(s.identify, 'temporary');
  assert.equal(s.coolingFault, false);
});

test('chassis status: pyghmi 3-byte answer with power off', () => {
  const s = decodeChassisStatus(bytes('00 00 00'));
  assert.equal(s.powerOn, false);
  assert.equal(s.identify, undefined);
  assert.throws(() => decodeChassisStatus(bytes('00')), { code: 'IPMI_DECODE' });
});

test('chassis control codes; never idempotent', () => {
  assert.deepEqual([...chassisControl('soft').data], [5]);
  assert.deepEqual([...chassisControl('cycle').data], [2]);
  assert.equal(chassisControl('off').idempotent, false);
  assert.equal(chassisControl('on').cmd, 0x02);
});

test('boot flags param 5: persistent EFI pxe, and the device codes', () => {
  assert.deepEqual([...encodeBootFlags('pxe', { persistent: true, efi: true })], [0xe0, 0x04, 0, 0, 0]);
  assert.deepEqual([...encodeBootFlags('disk')], [0x80, 0x08, 0, 0, 0]);
  assert.deepEqual([...encodeBootFlags('floppy')], [0x80, 0x3c, 0, 0, 0]);
  assert.deepEqual([...encodeBootFlags('none')], [0, 0, 0, 0, 0]);
  const back = decodeBootFlags(bytes('e0 14 00 00 00'));
  assert.deepEqual(
    { valid: back.valid, persistent: back.persistent, efi: back.efi, device: back.device },
    { valid: true, persistent: true, efi: true, device: 'cdrom' },
  );
  assert.equal(decodeBootFlags(bytes('80 18 00 00 00')).device, 'bios');
});

test('boot options requests: param 3 keeps flags past the 60 s timeout', () => {
  assert.deepEqual([...setSystemBootOptions(BootParam.bootFlagValidBitClearing, KEEP_BOOT_FLAGS_PAST_TIMEOUT).data], [3, 8]);
  assert.deepEqual([...getSystemBootOptions(5).data], [5, 0, 0]);
  const r = decodeSystemBootOptions(bytes('01 05 80 04 00 00 00'));
  assert.equal(r.param, 5);
  assert.equal(r.locked, false);
  assert.equal(decodeBootFlags(r.data).device, 'pxe');
  assert.throws(() => decodeSystemBootOptions(bytes('02 05 00')), /version 2/);
});
