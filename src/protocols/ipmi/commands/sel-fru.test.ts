import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clearSel, decodeSelEntry, decodeSelInfo, describeEvent } from './sel.ts';
import { decodeFru, decodeReadFruData } from './fru.ts';
import { decodeTypeLength, encodeTypeLength } from './type-length.ts';

const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

test('SEL entry: threshold event, asserted, in words', () => {
  const e = decodeSelEntry(bytes('0200' + '0100 02 00e1f565 2000 04 01 30 01 59 5a 5a'));
  assert.equal(e.next, 2);
  assert.equal(e.record.kind, 'event');
  if (e.record.kind !== 'event') return;
  assert.equal(e.record.sensorTypeName, 'Temperature');
  assert.equal(e.record.description, 'Upper Critical going high');
  assert.equal(e.record.asserted, true);
  assert.equal(e.record.timestamp.getTime(), 0x65f5e100 * 1000);
  assert.equal(describeEvent(0x6f, 0x08, 0x03), 'Power Supply AC lost');
  assert.equal(describeEvent(0x6f, 0x10, 0x02), 'Log area reset/cleared');
  assert.equal(describeEvent(0x77, 0x01, 0x02), 'Event type 0x77 offset 0x02');
});

test('SEL info and clear', () => {
  const info = decodeSelInfo(bytes('51 0300 803e 00000000 00000000 0a'));
  assert.deepEqual([info.version, info.entries, info.freeSpace, info.overflow], ['1.5', 3, 16000, false]);
  assert.deepEqual(info.operations, ['Reserve', 'Delete']);
  assert.deepEqual([...clearSel(0x0102).data], [2, 1, 0x43, 0x4c, 0x52, 0xaa]);
});

function withChecksum(b: number[]): number[] {
  const sum = b.reduce((s, x) => s + x, 0);
  return [...b, (0x100 - (sum & 0xff)) & 0xff];
}

function areaOf(fields: number[], length: number): number[] {
  const body = [...fields, 0xc1];
  while (body.length < length - 1) body.push(0);
  return withChecksum(body);
}

test('FRU: header, chassis, board (date since 1996), product; type/length encodings', () => {
  const chassis = areaOf([1, 3, 0x17, ...encodeTypeLength('CH-PN'), ...encodeTypeLength('CH-SN')], 24);
  const board = areaOf(
    [1, 4, 0, 0x10, 0x00, 0x00, ...encodeTypeLength('Acme'), ...encodeTypeLength('Board'), ...encodeTypeLength('B-SN'), ...encodeTypeLength('B-PN'), 0xc0],
    32,
  );
  const product = areaOf(
    [
      1,
      5,
      0,
      ...encodeTypeLength('Acme'),
      ...encodeTypeLength('Anvil 1'),
      ...encodeTypeLength('P-PN'),
      ...encodeTypeLength('v2'),
      ...encodeTypeLength('P-SN'),
      ...encodeTypeLength('tag'),
    ],
    40,
  );
  const header = withChecksum([1, 0, 1, 4, 8, 0, 0]);
  const fru = decodeFru(Uint8Array.from([...header, ...chassis, ...board, ...product]));
  assert.equal(fru.chassis?.type, 'Rack Mount Chassis');
  assert.equal(fru.chassis?.serial, 'CH-SN');
  assert.equal(fru.board?.manufacturer, 'Acme');
  assert.equal(fru.board?.mfgDate.toISOString(), '1996-01-01T00:16:00.000Z');
  assert.equal(fru.product?.name, 'Anvil 1');
  assert.equal(fru.product?.assetTag, 'tag');
  const broken = Uint8Array.from([...header.slice(0, 7), header[7]! ^ 1]);
  assert.throws(() => decodeFru(broken), /checksum/);
  assert.equal(decodeTypeLength(bytes('42 2143'), 0).text, '2143');
  assert.equal(decodeTypeLength(bytes('83 29dc a6'), 0).text, 'IPMI');
  assert.deepEqual([...decodeReadFruData(bytes('02 aa bb cc'))], [0xaa, 0xbb]);
});
