// RMCP+ framing: integrity pad and AuthCode, AES-CBC-128 with its pad, for each integrity algorithm.
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { test } from 'node:test';
import { ConfidentialityAlgorithm, IntegrityAlgorithm, PayloadType } from './constants.ts';
import { AesCbc128, aesDecrypt, aesEncrypt, deriveSessionKeys, hmac, integrityCode, key20, passwordKey } from './crypto.ts';
import { IpmiAuthenticationError, IpmiDecodeError, IpmiEncodeError } from './errors.ts';
import { decodeSession20, encodeSession20, peekSession20 } from './session20.ts';

const sik = Buffer.alloc(32, 0x5a);
const iv = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');

test('pre-session packets go in the clear (Get Channel Cipher Suites under SID 0)', () => {
  const wire = encodeSession20({ payloadType: PayloadType.IPMI, sessionId: 0, sequence: 0, payload: Buffer.from('2018c88104540e00805d', 'hex') });
  assert.equal(wire.toString('hex'), '0600ff0706000000000000000000' + '0a00' + '2018c88104540e00805d');
  const p = decodeSession20(wire);
  assert.equal(p.authenticated || p.encrypted, false);
  assert.equal(p.payload.toString('hex'), '2018c88104540e00805d');
});

for (const [name, auth, integrity, codeLength] of [
  ['HMAC-SHA1-96 (suite 3)', 1, IntegrityAlgorithm.HMAC_SHA1_96, 12],
  ['HMAC-SHA256-128 (suite 17)', 3, IntegrityAlgorithm.HMAC_SHA256_128, 16],
  ['HMAC-MD5-128 (suite 8)', 2, IntegrityAlgorithm.HMAC_MD5_128, 16],
] as const) {
  test(`${name}: pad to 4 bytes, authenticate, encrypt, round-trip`, () => {
    const keys = deriveSessionKeys(auth, sik, integrity, ConfidentialityAlgorithm.AES_CBC_128);
    for (let n = 0; n < 40; n++) {
      const payload = Buffer.alloc(n, n);
      const wire = encodeSession20({ payloadType: PayloadType.SOL, sessionId: 0x1234, sequence: n + 1, payload }, keys, iv);
      const covered = wire.length - 4 - codeLength;
      assert.equal(covered % 4, 0, 'authtype..next header is a multiple of 4');
      assert.equal(wire[wire.length - codeLength - 1], 0x07);
      const p = decodeSession20(wire, keys);
      assert.deepEqual(p.payload, payload);
      assert.equal(p.payloadType, PayloadType.SOL);
      assert.deepEqual(peekSession20(wire), { payloadType: PayloadType.SOL, encrypted: true, authenticated: true, sessionId: 0x1234, sequence: n + 1 });
    }
    const wire = encodeSession20({ payloadType: PayloadType.IPMI, sessionId: 1, sequence: 1, payload: Buffer.from([1, 2, 3]) }, keys, iv);
    for (let i = 4; i < wire.length; i++) {
      const bad = Buffer.from(wire);
      bad[i] = (bad[i] as number) ^ 0x01;
      assert.throws(() => decodeSession20(bad, keys), IpmiDecodeError, `bit flip at ${i}`);
    }
    assert.throws(() => decodeSession20(wire), IpmiAuthenticationError);
  });
}

test("the integrity code has the algorithm's truncated length", () => {
  const k = deriveSessionKeys(1, sik, IntegrityAlgorithm.HMAC_SHA1_96, 0);
  assert.equal(integrityCode(k, Buffer.from('x')).length, 12);
  assert.equal(k.k1.length, 20);
  assert.equal(deriveSessionKeys(3, sik, IntegrityAlgorithm.HMAC_SHA256_128, 0).k1.length, 32);
});

test('AES-CBC-128 pad is 1..n then n, filling whole blocks', () => {
  const k2 = Buffer.alloc(20, 1);
  for (let n = 0; n < 34; n++) {
    const enc = aesEncrypt(k2, iv, Buffer.alloc(n, 0xab));
    assert.equal((enc.length - 16) % 16, 0);
    assert.deepEqual(aesDecrypt(k2, enc), Buffer.alloc(n, 0xab));
  }
  assert.throws(() => aesEncrypt(k2, Buffer.alloc(8), Buffer.alloc(1)), IpmiEncodeError);
  assert.throws(() => aesDecrypt(k2, Buffer.alloc(20)), IpmiDecodeError);
  assert.throws(() => aesDecrypt(Buffer.alloc(16, 9), aesEncrypt(k2, iv, Buffer.alloc(3))), IpmiDecodeError);
});

/** IV ‖ AES-CBC-128(payload ‖ 01 02 … n ‖ n) by node:crypto (OpenSSL), to hold aes.ts and the CBC chaining to. */
function opensslEncrypt(k2: Buffer, messageIv: Buffer, payload: Buffer): Buffer {
  const padLength = (16 - ((payload.length + 1) % 16)) % 16;
  const plain = Buffer.concat([payload, Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1)), Buffer.from([padLength])]);
  const cipher = createCipheriv('aes-128-cbc', k2.subarray(0, 16), messageIv).setAutoPadding(false);
  return Buffer.concat([messageIv, cipher.update(plain), cipher.final()]);
}

test("a session's AES-CBC-128 gives node:crypto's aes-128-cbc bytes, message after message under one key", () => {
  // A fixed-seed PRNG (xorshift32): the same keys, IVs and payloads every run.
  let seed = 0x9e3779b9;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), seed & 0xff)));
  for (let k = 0; k < 4; k++) {
    const k2 = bytes(20);
    const aes = new AesCbc128(k2);
    // Many messages through the same ciphers, each with its own IV: nothing carries over.
    for (let n = 0; n < 70; n++) {
      const messageIv = bytes(16);
      const payload = bytes(n);
      const enc = aes.encrypt(messageIv, payload);
      assert.deepEqual(enc, opensslEncrypt(k2, messageIv, payload), `length ${n}`);
      assert.deepEqual(aesEncrypt(k2, messageIv, payload), enc);
      assert.deepEqual(aes.decrypt(enc), payload);
      assert.deepEqual(aesDecrypt(k2, enc), payload);
    }
  }
  const aes = new AesCbc128(Buffer.alloc(20, 1));
  assert.throws(() => aes.encrypt(Buffer.alloc(8), Buffer.alloc(1)), IpmiEncodeError);
  assert.throws(() => aes.decrypt(Buffer.alloc(20)), IpmiDecodeError);
  assert.throws(() => new AesCbc128(Buffer.alloc(16, 9)).decrypt(aes.encrypt(iv, Buffer.alloc(3))), IpmiAuthenticationError);
  assert.throws(() => new AesCbc128(Buffer.alloc(8)).encrypt(iv, Buffer.alloc(1)), IpmiEncodeError);
});

test('the key of a password given as text is made once and kept for the next login with it', () => {
  assert.equal(passwordKey('secret'), passwordKey('secret'));
  const other = passwordKey('other');
  assert.notEqual(other, passwordKey('secret'));
  assert.deepEqual(hmac('sha256', passwordKey('other'), Buffer.from('m')), hmac('sha256', key20('other'), Buffer.from('m')));
  assert.deepEqual(hmac('sha1', passwordKey(Buffer.from('bytes')), Buffer.from('m')), hmac('sha1', key20('bytes'), Buffer.from('m')));
  assert.throws(() => passwordKey('x'.repeat(21)), IpmiEncodeError);
});

test('encrypting without an IV is an encode error', () => {
  const keys = deriveSessionKeys(1, sik, IntegrityAlgorithm.HMAC_SHA1_96, ConfidentialityAlgorithm.AES_CBC_128);
  assert.throws(() => encodeSession20({ payloadType: 0, sessionId: 1, sequence: 1, payload: Buffer.alloc(1) }, keys), IpmiEncodeError);
});

test('OEM explicit payloads carry IANA and payload ID', () => {
  const wire = encodeSession20({
    payloadType: PayloadType.OEM_EXPLICIT,
    oem: { iana: 4542, payloadId: 7 },
    sessionId: 2,
    sequence: 3,
    payload: Buffer.from([9]),
  });
  assert.deepEqual(decodeSession20(wire).oem, { iana: 4542, payloadId: 7 });
});
