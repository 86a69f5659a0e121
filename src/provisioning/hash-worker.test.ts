import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { HashWorker } from './hash-worker.ts';

const sha256 = (...parts: Buffer[]) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
};

/** Hashes `parts` through `hasher`, each copied into the next of its buffers. */
async function hashThrough(hasher: HashWorker, parts: Buffer[]): Promise<string> {
  for (const [i, part] of parts.entries()) {
    const index = i % hasher.buffers.length;
    part.copy(hasher.buffers[index]!);
    await hasher.update(index, part.length);
  }
  return hasher.digest();
}

test('a released worker is taken again by the next upload of its shape, and hashes from the start', async () => {
  const first = HashWorker.acquire(2, 1000);
  const a = [randomBytes(1000), randomBytes(1000), randomBytes(17)];
  assert.equal(await hashThrough(first, a), sha256(...a));
  await first.release();

  const again = HashWorker.acquire(2, 1000);
  assert.equal(again, first, 'the idle worker is reused');
  // Taken while the first is busy: another worker, with buffers of its own.
  const other = HashWorker.acquire(2, 1000);
  assert.notEqual(other, again);
  assert.notEqual(other.buffers[0]!.buffer, again.buffers[0]!.buffer);
  const b = [randomBytes(1000)];
  const c = [randomBytes(999), randomBytes(3)];
  const [hb, hc] = await Promise.all([hashThrough(again, b), hashThrough(other, c)]);
  assert.equal(hb, sha256(...b), 'nothing of the earlier upload is in the new digest');
  assert.equal(hc, sha256(...c));
  await again.release();
  await other.release();

  const empty = HashWorker.acquire(2, 1000);
  assert.equal(await empty.digest(), sha256());
  await empty.release();
  // Another shape gets a new worker (and the idle one is ended).
  const bigger = HashWorker.acquire(2, 2000);
  assert.notEqual(bigger, empty);
  await bigger.terminate();
  await assert.rejects(bigger.digest(), /ended/);
});
