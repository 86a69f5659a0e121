import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIRECT_ALIGN, StoreWorker } from './store-worker.ts';

const sha256 = (...parts: Buffer[]) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
};

/** Stores `parts` one after another through `worker`, each copied into the next of its buffers. */
async function storeThrough(worker: StoreWorker, buffers: Buffer[], parts: Buffer[]): Promise<string> {
  let position = 0;
  for (const [i, part] of parts.entries()) {
    const index = i % buffers.length;
    part.copy(buffers[index]!);
    await worker.store(index, part.length, position);
    position += part.length;
  }
  return worker.digest();
}

test('the worker writes and hashes what it is handed; released, it is taken again and starts afresh', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-store-worker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = await open(join(dir, 'a'), 'wx');
  const first = StoreWorker.acquire(2, 1000, file.fd);
  const a = [randomBytes(1000), randomBytes(1000), randomBytes(17)];
  assert.equal(await storeThrough(first.worker, first.buffers, a), sha256(...a));
  await first.worker.release();
  await file.close();
  assert.deepEqual(readFileSync(join(dir, 'a')), Buffer.concat(a));

  // Hashing only (no file), by the idle worker; another taken meanwhile is a worker of its own.
  const again = StoreWorker.acquire(2, 1000);
  assert.equal(again.worker, first.worker, 'the idle worker is reused');
  assert.equal(again.buffers[0]!.buffer, first.buffers[0]!.buffer, 'with its buffers');
  const other = StoreWorker.acquire(3, 500);
  assert.notEqual(other.worker, again.worker);
  const b = [randomBytes(1000)];
  const c = [randomBytes(499), randomBytes(3)];
  const [hb, hc] = await Promise.all([storeThrough(again.worker, again.buffers, b), storeThrough(other.worker, other.buffers, c)]);
  assert.equal(hb, sha256(...b), 'nothing of the earlier upload is in the new digest');
  assert.equal(hc, sha256(...c));
  await again.worker.release();
  await other.worker.release();

  const reshaped = StoreWorker.acquire(1, 10);
  assert.equal(reshaped.worker, again.worker, 'the idle worker is reused for another shape');
  assert.equal(reshaped.buffers.length, 1);
  assert.equal(reshaped.buffers[0]!.length, 10, 'with new buffers of that shape');
  await reshaped.worker.release();

  const empty = StoreWorker.acquire(1, 10);
  assert.equal(await empty.worker.digest(), sha256());
  await empty.worker.terminate();
  await assert.rejects(empty.worker.digest(), /ended/);
});

test('a write that fails comes back as its error, with its code', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-store-worker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = await open(join(dir, 'read-only'), 'wx');
  await file.close();
  const readOnly = await open(join(dir, 'read-only'), 'r');
  t.after(() => readOnly.close());
  const { worker, buffers } = StoreWorker.acquire(1, 100, readOnly.fd);
  buffers[0]!.fill(1);
  await assert.rejects(worker.store(0, 100, 0), { code: 'EBADF' });
  await worker.release();
});

test('full aligned buffers go through the direct descriptor, the rest through the other; a direct write that fails is its error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-store-worker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'direct');
  const file = await open(path, 'wx');
  // Where the file system has no direct I/O (tmpfs, say) the plain descriptor stands in: the content must come out the same.
  const direct = await open(path, constants.O_WRONLY | constants.O_DIRECT).catch(() => file);
  const size = 2 * DIRECT_ALIGN;
  const { worker, buffers } = StoreWorker.acquire(2, size, file.fd, direct.fd);
  for (const b of buffers) assert.equal(b.byteOffset % DIRECT_ALIGN, 0, 'each buffer starts aligned');
  const parts = [randomBytes(size), randomBytes(size), randomBytes(size), randomBytes(1000)];
  assert.equal(await storeThrough(worker, buffers, parts), sha256(...parts));
  await worker.release();
  if (direct !== file) await direct.close();
  await file.close();
  assert.deepEqual(readFileSync(path), Buffer.concat(parts));

  // A direct descriptor that cannot write: the store fails with its error, not silently elsewhere.
  const other = join(dir, 'read-only-direct');
  const plain = await open(other, 'wx');
  const readOnly = await open(other, 'r');
  t.after(() => Promise.all([plain.close(), readOnly.close()]));
  const again = StoreWorker.acquire(1, DIRECT_ALIGN, plain.fd, readOnly.fd);
  again.buffers[0]!.fill(7);
  await assert.rejects(again.worker.store(0, DIRECT_ALIGN, 0), { code: 'EBADF' });
  await again.worker.release();
});
