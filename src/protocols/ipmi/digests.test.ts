// The IPMI hashes and HMAC against the published vectors and against node:crypto (OpenSSL).
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { xorshift32 } from '../testing/prng.ts';
import { digest, equalBytes, hmac, HmacKey } from './digests.ts';
import type { DigestName } from './digests.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const text = (s: string) => Buffer.from(s, 'latin1');

test('the FIPS 180-4 and RFC 1321 vectors', () => {
  assert.equal(hex(digest('sha256', text('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(
    hex(digest('sha256', text('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  );
  assert.equal(hex(digest('sha1', text('abc'))), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.equal(hex(digest('sha1', text('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))), '84983e441c3bd26ebaae4aa1f95129e5e54670f1');
  assert.equal(hex(digest('sha1', text('a'.repeat(1_000_000)))), '34aa973cd4c4daa4f61eeb2bdbad27316534016f');
  assert.equal(hex(digest('md5', text(''))), 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(hex(digest('md5', text('message digest'))), 'f96b697d7cb7938d525a2f31aaf161d0');
  assert.equal(
    hex(digest('md5', text('12345678901234567890123456789012345678901234567890123456789012345678901234567890'))),
    '57edf4a22be3c955ac49da2e2107b67a',
  );
});

test('the RFC 4231 and RFC 2202 HMAC vectors, a key longer than a block among them', () => {
  assert.equal(hex(hmac('sha256', Buffer.alloc(20, 0x0b), text('Hi There'))), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
  assert.equal(
    hex(hmac('sha256', Buffer.alloc(131, 0xaa), text('Test Using Larger Than Block-Size Key - Hash Key First'))),
    '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
  );
  assert.equal(hex(hmac('sha1', text('Jefe'), text('what do ya want for nothing?'))), 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79');
  assert.equal(hex(hmac('md5', Buffer.alloc(16, 0x0b), text('Hi There'))), '9294727a3638bb1c13f48ef8158bfc9d');
});

test('every length and split across blocks gives what node:crypto gives, for each digest and HMAC', () => {
  const next = xorshift32(0x1badb002);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => next() & 0xff));
  for (const name of ['sha1', 'sha256', 'md5'] as const satisfies readonly DigestName[]) {
    for (let n = 0; n < 260; n++) {
      const data = bytes(n);
      const cut = next() % (n + 1);
      const parts = [data.subarray(0, cut), data.subarray(cut)];
      assert.deepEqual(digest(name, ...parts), createHash(name).update(data).digest(), `${name} of ${n} bytes, split at ${cut}`);
      const key = bytes(next() % 100);
      const kept = new HmacKey(key);
      const want = createHmac(name, key).update(data).digest();
      assert.deepEqual(hmac(name, key, ...parts), want, `HMAC-${name} of ${n} bytes, key of ${key.length}`);
      // A kept key gives the same again: its pad states are reused, not consumed.
      assert.deepEqual(kept.mac(name, data), want);
      assert.deepEqual(kept.mac(name, ...parts), want);
    }
  }
});

test('an unknown digest name is refused, and equalBytes compares length and every byte', () => {
  assert.throws(() => digest('sha512' as DigestName, Buffer.alloc(1)), /unknown digest 'sha512'/);
  assert.equal(equalBytes(Buffer.from([1, 2, 3]), Buffer.from([1, 2, 3])), true);
  assert.equal(equalBytes(Buffer.from([1, 2, 3]), Buffer.from([1, 2, 4])), false);
  assert.equal(equalBytes(Buffer.from([1, 2, 3]), Buffer.from([1, 2])), false);
  assert.equal(equalBytes(Buffer.alloc(0), Buffer.alloc(0)), true);
});
