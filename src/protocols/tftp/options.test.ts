// Option negotiation: RFC 2347 (unknown options dropped), 2348 (blksize clamp),
// 2349 (timeout range, tsize answered), 7440 (windowsize clamp).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { negotiateReadOptions } from './options.ts';

const limits = { maxBlockSize: 1468, maxWindowSize: 64, maxTimeoutSeconds: 255 };

test('no options: RFC 1350 defaults and no OACK', () => {
  assert.deepEqual(negotiateReadOptions([], 100, limits), { accepted: [], blockSize: 512, windowSize: 1, timeoutSeconds: undefined });
});

test('blksize is clamped to the cap, tsize answered with the size, names lower-cased', () => {
  const result = negotiateReadOptions(
    [
      ['BLKSIZE', '65464'],
      ['tsize', '0'],
      ['windowsize', '16'],
    ],
    70000,
    limits,
  );
  assert.deepEqual(result.accepted, [
    ['blksize', '1468'],
    ['tsize', '70000'],
    ['windowsize', '16'],
  ]);
  assert.equal(result.blockSize, 1468);
  assert.equal(result.windowSize, 16);
});

test('invalid values and unknown options are left out of the OACK', () => {
  const result = negotiateReadOptions(
    [
      ['blksize', '7'],
      ['timeout', '0'],
      ['timeout', '3'],
      ['windowsize', '0'],
      ['multicast', ''],
      ['tsize', 'x'],
    ],
    10,
    limits,
  );
  // timeout's first occurrence (0, invalid) wins and is refused; the duplicate is ignored.
  assert.deepEqual(result.accepted, []);
  assert.equal(result.blockSize, 512);
  assert.equal(result.timeoutSeconds, undefined);
});

test('timeout in 1..255 is acknowledged; windowsize above the cap is lowered; tsize refused for unknown sizes', () => {
  const result = negotiateReadOptions(
    [
      ['timeout', '255'],
      ['windowsize', '1000'],
      ['tsize', '0'],
    ],
    undefined,
    limits,
  );
  assert.deepEqual(result.accepted, [
    ['timeout', '255'],
    ['windowsize', '64'],
  ]);
  assert.equal(result.timeoutSeconds, 255);
  assert.equal(negotiateReadOptions([['timeout', '256']], 1, limits).timeoutSeconds, undefined);
  // Above the server's own cap: refused, since RFC 2349 does not let the server answer lower.
  assert.deepEqual(negotiateReadOptions([['timeout', '61']], 1, { ...limits, maxTimeoutSeconds: 60 }).accepted, []);
});
