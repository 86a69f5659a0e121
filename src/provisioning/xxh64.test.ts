import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Xxh64, XXH64_HEX } from './xxh64.ts';

const of = async (...parts: Buffer[]): Promise<string> => {
  const h = await Xxh64.create();
  for (const p of parts) h.update(p);
  return h.hex();
};

test("XXH64 of the reference inputs (xxHash's own sanity values, seed 0)", async () => {
  assert.equal(await of(Buffer.alloc(0)), 'ef46db3751d8e999');
  assert.equal(await of(Buffer.from('a')), 'd24ec4f1a98c6e5b');
  assert.equal(await of(Buffer.from('abc')), '44bc2cf5ad770999');
  // A digest with leading zero digits keeps all 16.
  for (let i = 0; i < 64; i++) assert.match(await of(Buffer.from([i])), XXH64_HEX);
});

test('XXH64 does not depend on how the stream is cut, and one flipped bit changes it', async () => {
  const data = Buffer.concat([randomBytes(300_001), Buffer.alloc(1 << 20), randomBytes(77)]);
  const whole = await of(data);
  assert.equal(await of(data.subarray(0, 1), data.subarray(1, 65_537), data.subarray(65_537)), whole);
  assert.notEqual(await of(data.subarray(0, data.length - 1), Buffer.from([data[data.length - 1]! ^ 1])), whole);
});
