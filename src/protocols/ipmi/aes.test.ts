// AES-128 against FIPS 197's vector and against node:crypto (OpenSSL) on random keys and blocks.
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { test } from 'node:test';
import { xorshift32 } from '../testing/prng.ts';
import { Aes128 } from './aes.ts';

test('FIPS 197 appendix C.1: AES-128 encrypts and decrypts the example block', () => {
  const aes = new Aes128(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'));
  const block = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  aes.encryptBlock(block, 0, block, 0);
  assert.equal(block.toString('hex'), '69c4e0d86a7b0430d8cdb78070b4c55a');
  aes.decryptBlock(block, 0, block, 0);
  assert.equal(block.toString('hex'), '00112233445566778899aabbccddeeff');
});

test("random keys and blocks give node:crypto's aes-128-ecb bytes, and decrypt back", () => {
  const next = xorshift32(0xc0ffee);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => next() & 0xff));
  for (let k = 0; k < 200; k++) {
    const key = bytes(16);
    const plain = bytes(64);
    const openssl = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false).update(plain);
    const aes = new Aes128(key);
    // At offsets other than 0, between two buffers: the block functions take both.
    const out = Buffer.alloc(80);
    for (let at = 0; at < 64; at += 16) aes.encryptBlock(plain, at, out, at + 16);
    assert.deepEqual(out.subarray(16), openssl, `key ${key.toString('hex')}`);
    for (let at = 16; at < 80; at += 16) aes.decryptBlock(out, at, out, at);
    assert.deepEqual(out.subarray(16), plain);
  }
});

test('a key that is not 16 bytes is refused', () => {
  assert.throws(() => new Aes128(Buffer.alloc(20)), /an AES-128 key is 16 bytes, not 20/);
});
