// Cipher suite table and the Get Channel Cipher Suites record list.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CIPHER_SUITES, cipherSuiteChunk, decodeCipherSuiteRecords, encodeCipherSuiteRecords, findCipherSuite } from './cipher-suites.ts';
import { IpmiDecodeError } from './errors.ts';

test('suite records match the bytes in the spec and ipmitool (3 = C0 03 01 41 81, 17 = C0 11 03 44 81)', () => {
  const s3 = CIPHER_SUITES.get(3);
  const s17 = CIPHER_SUITES.get(17);
  assert.ok(s3 && s17);
  assert.equal(encodeCipherSuiteRecords([s3, s17]).toString('hex'), 'c003014181c011034481');
  for (const id of [0, 1, 2, 3, 15, 16, 17]) assert.equal(CIPHER_SUITES.get(id)?.id, id);
  assert.equal(findCipherSuite(3, 4, 1)?.id, 17);
  assert.equal(findCipherSuite(3, 1, 1), undefined);
});

test('the record list round-trips through 16-byte chunks', () => {
  const records = encodeCipherSuiteRecords(CIPHER_SUITES.values());
  let joined = Buffer.alloc(0);
  for (let i = 0; ; i++) {
    const chunk = cipherSuiteChunk(records, i);
    joined = Buffer.concat([joined, chunk]);
    if (chunk.length < 16) break;
  }
  const parsed = decodeCipherSuiteRecords(joined);
  assert.deepEqual(
    parsed.map((r) => r.id),
    [...CIPHER_SUITES.keys()],
  );
  assert.deepEqual(
    parsed.find((r) => r.id === 17),
    { id: 17, auth: [3], integrity: [4], confidentiality: [1] },
  );
});

test('OEM records and records listing several algorithms parse', () => {
  const parsed = decodeCipherSuiteRecords(Buffer.from('c1 05 57 01 00 01 41 42 80 c0 00 00 40 80'.replace(/ /g, ''), 'hex'));
  assert.deepEqual(parsed[0], { id: 5, oemIana: 0x157, auth: [1], integrity: [1, 2], confidentiality: [0] });
  assert.deepEqual(parsed[1], { id: 0, auth: [0], integrity: [0], confidentiality: [0] });
});

test('a list not starting with a record byte is IpmiDecodeError', () => {
  assert.throws(() => decodeCipherSuiteRecords(Buffer.from([0x01, 0x03])), IpmiDecodeError);
  assert.throws(() => decodeCipherSuiteRecords(Buffer.from([0xc1, 0x03, 0x00])), IpmiDecodeError);
});
