import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertReading, decodeSdrRecord, decodeSensorReading, decodeSensorThresholds, thresholdStatus, getSdr } from './sdr.ts';
import type { FullSensorRecord } from './sdr.ts';
import { unitName } from './sensor-names.ts';

const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

// A full sensor record: "CPU Temp", degrees C, M=1 B=0, UNC/UCR/UNR readable = 80/90/100.
const fullRecord = bytes(
  '0100 51 01 33' + // id 1, version 1.5, full, 51 bytes follow
    '20 00 30 03 01 7f 68 01 01' + // owner 0x20, lun 0, sensor 0x30, entity cpu, init, caps, type Temperature, threshold
    '0000 0000 383f' + // masks; readable 0x38 = unc,ucr,unr
    '00 01 00 00' + // units1 unsigned, degrees C, no modifier, linear
    '01 00 00 00 00 00' + // M=1, B=0, exps 0
    '00 00 00 00 ff 00' + // flags, nominal, normal max/min, sensor max/min
    '64 5a 50 00 00 00' + // unr 100, ucr 90, unc 80, lnr, lcr, lnc
    '00 00 0000 00' + // hysteresis, reserved, oem
    'c8' +
    Buffer.from('CPU Temp').toString('hex'),
);

test('full sensor record: name, units, conversion, readable thresholds', () => {
  const r = decodeSdrRecord(fullRecord) as FullSensorRecord;
  assert.equal(r.type, 'full');
  assert.equal(r.name, 'CPU Temp');
  assert.equal(r.number, 0x30);
  assert.equal(unitName(r.unit), 'degrees C');
  assert.deepEqual(r.thresholds, { unc: 80, ucr: 90, unr: 100 });
  assert.equal(r.tolerance, 0);
  assert.deepEqual(r.hysteresis, { positive: 0, negative: 0 });
  // Byte 26 bits 5:0 the tolerance (bits 7:6 are M's top bits), bytes 43-44 the hysteresis.
  const edited = Uint8Array.from(fullRecord);
  edited[25] = 0x45;
  edited[42] = 2;
  edited[43] = 3;
  const e = decodeSdrRecord(edited) as FullSensorRecord;
  assert.equal(e.tolerance, 5);
  assert.equal(e.conversion.m, 257);
  assert.deepEqual(e.hysteresis, { positive: 2, negative: 3 });
  assert.equal(convertReading(45, r.conversion), 45);
});

test('linearisation: M, B, exponents, signed formats, 1/x', () => {
  const base = { format: 'unsigned', linearization: 'linear', m: 5, b: 10, bExp: 1, rExp: -2 } as const;
  assert.equal(convertReading(100, base), (5 * 100 + 10 * 10) / 100);
  assert.equal(convertReading(0xff, { ...base, format: 'twos-complement', m: 1, b: 0, rExp: 0 }), -1);
  assert.equal(convertReading(0xfe, { ...base, format: 'ones-complement', m: 1, b: 0, rExp: 0 }), -1);
  assert.equal(convertReading(4, { ...base, linearization: '1/x', m: 1, b: 0, rExp: 0 }), 0.25);
  assert.equal(convertReading(4, { ...base, format: 'none' }), undefined);
});

test('compact, FRU locator and MC locator records', () => {
  const compact = bytes('0200 51 02 1e 20 00 05 07 01 00 00 07 6f 0000 0000 0000 00 00 00 00 00 00 00 000000 00 c3 435055');
  const c = decodeSdrRecord(compact);
  assert.equal(c.type, 'compact');
  assert.equal(c.type === 'compact' && c.name, 'CPU');
  const fru = decodeSdrRecord(bytes('0300 51 11 0f 20 00 80 00 00 10 00 0a 01 00 c4 42524431'));
  assert.deepEqual(fru.type === 'fru-locator' && [fru.fruId, fru.logical, fru.name], [0, true, 'BRD1']);
  const mc = decodeSdrRecord(bytes('0400 51 12 0e 20 00 00 ff 000000 06 01 00 c3 424d43'));
  assert.deepEqual(mc.type === 'mc-locator' && [mc.slaveAddress, mc.name], [0x20, 'BMC']);
  assert.throws(() => decodeSdrRecord(fullRecord.subarray(0, 30)), { code: 'IPMI_DECODE' });
});

test('sensor reading flags and threshold status', () => {
  const ok = decodeSensorReading(bytes('2d c0 00'));
  assert.equal(ok.raw, 45);
  assert.equal(thresholdStatus(ok), 'ok');
  assert.equal(thresholdStatus(decodeSensorReading(bytes('5b c0 18'))), 'cr');
  assert.equal(thresholdStatus(decodeSensorReading(bytes('00 e0 00'))), 'ns');
  assert.deepEqual(decodeSensorThresholds(bytes('38 00 00 00 50 5a 64')), { unc: 80, ucr: 90, unr: 100 });
  assert.deepEqual([...getSdr(0x1234, 7, 5, 16).data], [0x34, 0x12, 7, 0, 5, 16]);
});
