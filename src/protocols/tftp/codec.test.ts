// Codec tests: packets written out in hex, as a capture shows them (RFC 1350 §5, RFC 2347).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePacket, encodeAck, encodeData, encodeDataHeader, encodeError, encodeOack, encodeRequest, toNetascii } from './codec.ts';
import { TftpDecodeError } from './errors.ts';
import { xorshift32 } from '../testing/prng.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RRQ "pxelinux.0" octet, blksize 1468, tsize 0 — as iPXE and curl send it.
const RRQ_WITH_OPTIONS = hex(`
  0001 7078656c696e75782e3000 6f6374657400
  626c6b73697a6500 3134363800 7473697a6500 3000`);

test('decodes an RRQ with options, keeping their order and case', () => {
  assert.deepEqual(decodePacket(RRQ_WITH_OPTIONS), {
    kind: 'rrq',
    filename: 'pxelinux.0',
    mode: 'octet',
    options: [
      ['blksize', '1468'],
      ['tsize', '0'],
    ],
  });
});

test('encodes that same RRQ byte for byte', () => {
  const packet = encodeRequest({
    kind: 'rrq',
    filename: 'pxelinux.0',
    mode: 'octet',
    options: [
      ['blksize', '1468'],
      ['tsize', '0'],
    ],
  });
  assert.equal(packet.toString('hex'), RRQ_WITH_OPTIONS.toString('hex'));
});

test('mode is case-insensitive (RFC 1350 §5) and a WRQ decodes as one', () => {
  assert.deepEqual(decodePacket(hex('0002 6600 4f4354455400')), { kind: 'wrq', filename: 'f', mode: 'octet', options: [] });
  assert.equal((decodePacket(hex('0001 6600 6e65746173636969 00')) as { mode: string }).mode, 'netascii');
});

test('trailing NUL padding after the options is tolerated', () => {
  const packet = decodePacket(hex('0001 6600 6f6374657400 74696d656f757400 3200 000000'));
  assert.deepEqual(packet, { kind: 'rrq', filename: 'f', mode: 'octet', options: [['timeout', '2']] });
});

test('DATA: block number and payload view', () => {
  const packet = decodePacket(hex('0003 ffff 68656c6c6f'));
  assert.equal(packet.kind, 'data');
  if (packet.kind !== 'data') return;
  assert.equal(packet.block, 65535);
  assert.equal(packet.data.toString(), 'hello');
  assert.equal(encodeData(65535, Buffer.from('hello')).toString('hex'), '0003ffff68656c6c6f');
  assert.equal(encodeDataHeader(65536).toString('hex'), '00030000', 'block numbers wrap to 0 after 65535');
  assert.deepEqual(decodePacket(hex('0003 0001')), { kind: 'data', block: 1, data: Buffer.alloc(0) });
});

test('ACK, ERROR and OACK', () => {
  assert.deepEqual(decodePacket(hex('0004 0102')), { kind: 'ack', block: 0x0102 });
  assert.equal(encodeAck(0x10102).toString('hex'), '00040102');
  assert.deepEqual(decodePacket(hex('0005 0001 46696c65206e6f7420666f756e6400')), { kind: 'error', code: 1, message: 'File not found' });
  assert.equal(encodeError(2, 'Access violation').toString('hex'), '0005' + '0002' + '41636365737320' + '76696f6c6174696f6e' + '00');
  assert.deepEqual(decodePacket(hex('0005 0000 6e6f206e756c')), { kind: 'error', code: 0, message: 'no nul' }, 'a missing NUL is tolerated');
  const oack = hex('0006 626c6b73697a6500 3134363800 77696e646f7773697a6500 313600');
  assert.deepEqual(decodePacket(oack), {
    kind: 'oack',
    options: [
      ['blksize', '1468'],
      ['windowsize', '16'],
    ],
  });
  assert.equal(
    encodeOack([
      ['blksize', '1468'],
      ['windowsize', '16'],
    ]).toString('hex'),
    oack.toString('hex'),
  );
  assert.deepEqual(decodePacket(hex('0006')), { kind: 'oack', options: [] });
});

const malformed: [string, string, TftpDecodeError['reason']][] = [
  ['empty datagram', '', 'truncated'],
  ['one byte', '00', 'truncated'],
  ['opcode 0', '0000 6600', 'unknown-opcode'],
  ['opcode 7', '0007', 'unknown-opcode'],
  ['ACK without block', '0004 01', 'truncated'],
  ['DATA without block', '0003', 'truncated'],
  ['ERROR without code', '0005 00', 'truncated'],
  ['RRQ filename without NUL', '0001 666f6f', 'unterminated-string'],
  ['RRQ without mode', '0001 666f6f00', 'unterminated-string'],
  ['RRQ mode without NUL', '0001 666f6f00 6f63746574', 'unterminated-string'],
  ['RRQ with empty filename', '0001 00 6f6374657400', 'empty-filename'],
  ['RRQ with unknown mode', '0001 6600 62696e61727900', 'unknown-mode'],
  ['RRQ with invalid UTF-8 filename', '0001 ff00 6f6374657400', 'invalid-utf8'],
  ['option without value', '0001 6600 6f6374657400 626c6b73697a6500', 'odd-options'],
  ['option value without NUL', '0001 6600 6f6374657400 626c6b73697a6500 3531', 'unterminated-string'],
  ['empty option name', '0001 6600 6f6374657400 00 3100', 'empty-option-name'],
];

for (const [what, bytes, reason] of malformed) {
  test(`malformed: ${what} → ${reason}`, () => {
    assert.throws(
      () => decodePacket(hex(bytes)),
      (error: unknown) => error instanceof TftpDecodeError && error.reason === reason && error.code === 'TFTP_MALFORMED_PACKET',
    );
  });
}

test('too many options is refused rather than parsed without bound', () => {
  const many = Array.from({ length: 33 }, (_, i) => [`o${i}`, '1'] as const);
  assert.throws(() => decodePacket(encodeRequest({ kind: 'rrq', filename: 'f', mode: 'octet', options: many })), { reason: 'too-many-options' });
});

test('fuzz: 100,000 random and mutated datagrams either decode or throw TftpDecodeError, nothing else', () => {
  // A fixed seed, so a failure reproduces.
  const next = xorshift32(0x9e3779b9);
  const seeds = [RRQ_WITH_OPTIONS, encodeData(7, Buffer.alloc(20, 1)), encodeAck(9), encodeError(1, 'File not found'), encodeOack([['tsize', '123']])];
  for (let i = 0; i < 100_000; i++) {
    let packet: Buffer;
    if (i % 2 === 0) {
      packet = Buffer.alloc(next() % 80);
      for (let k = 0; k < packet.length; k++) packet[k] = next() & 0xff;
      if (packet.length >= 2 && i % 4 === 0) packet[0] = 0; // aim at real opcodes half the time
    } else {
      const seed = seeds[next() % seeds.length]!;
      packet = Buffer.from(seed.subarray(0, next() % (seed.length + 1)));
      for (let k = next() % 4; k > 0 && packet.length > 0; k--) packet[next() % packet.length] = next() & 0xff;
    }
    try {
      decodePacket(packet);
    } catch (error) {
      if (!(error instanceof TftpDecodeError)) assert.fail(`${packet.toString('hex')} threw ${String(error)}`);
    }
  }
});

test('netascii: LF becomes CR LF and CR becomes CR NUL, as tftp-hpa writes it', () => {
  assert.deepEqual(toNetascii(Buffer.from('a\nb\rc\r\n')), Buffer.from('a\r\nb\r\0c\r\0\r\n', 'binary'));
  assert.equal(toNetascii(Buffer.alloc(0)).length, 0);
});
