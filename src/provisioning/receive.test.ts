import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { receiveToFile } from './receive.ts';

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-receive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `data` in chunks of irregular sizes, as a socket hands them over. */
function chunked(data: Buffer, sizes: readonly number[]): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    chunks.push(data.subarray(at, at + n));
    at += n;
  }
  return Readable.from(chunks);
}

test('a stream crossing many buffers arrives byte for byte, hashed, with its head and mode', async (t) => {
  const dir = scratch(t);
  const data = randomBytes(1_000_003);
  const progress: number[] = [];
  const path = join(dir, 'file');
  const got = await receiveToFile(chunked(data, [1, 65536, 7, 100_000, 3]), path, {
    mode: 0o600,
    headBytes: 4,
    bufferBytes: 4096,
    onProgress: (n) => progress.push(n),
  });
  assert.equal(got.bytes, data.length);
  assert.equal(got.sha256, createHash('sha256').update(data).digest('hex'));
  assert.deepEqual(got.head, data.subarray(0, 4));
  assert.deepEqual(readFileSync(path), data);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(progress, [], 'under a MiB: no progress to tell');
});

test('a short or empty stream keeps what head it has; an existing file is never overwritten', async (t) => {
  const dir = scratch(t);
  const short = await receiveToFile(Readable.from([Buffer.from('ab')]), join(dir, 'short'), { mode: 0o600, headBytes: 4 });
  assert.deepEqual(short.head, Buffer.from('ab'));
  const empty = await receiveToFile(Readable.from([]), join(dir, 'empty'), { mode: 0o600, headBytes: 4 });
  assert.equal(empty.bytes, 0);
  assert.equal(empty.head.length, 0);
  writeFileSync(join(dir, 'taken'), 'keep');
  await assert.rejects(receiveToFile(Readable.from([Buffer.from('x')]), join(dir, 'taken'), { mode: 0o600, headBytes: 4 }), { code: 'EEXIST' });
  assert.equal(readFileSync(join(dir, 'taken'), 'utf8'), 'keep');
});

test('a source that fails midway rejects with its error once no write is in flight', async (t) => {
  const dir = scratch(t);
  const source = new Readable({ read() {} });
  const path = join(dir, 'half');
  const done = receiveToFile(source, path, { mode: 0o600, headBytes: 4, bufferBytes: 1024 });
  source.push(randomBytes(10_000));
  setImmediate(() => source.destroy(new Error('client went away')));
  await assert.rejects(done, /client went away/);
  // The file is the caller's to remove; it is closed, so removing it works at once.
  rmSync(path);
});

test('freed chunks: a stream of whole-buffer chunks arrives intact, and each chunk is released once copied', async (t) => {
  const dir = scratch(t);
  // Each chunk owns its ArrayBuffer, as a request body's chunks do.
  const chunks = Array.from({ length: 40 }, (_, i) => {
    const chunk = Buffer.allocUnsafeSlow(i % 3 === 0 ? 65536 : 1000 + i);
    randomBytes(chunk.length).copy(chunk);
    return chunk;
  });
  const data = Buffer.concat(chunks);
  const slice = data.subarray(10, 5000);
  const sliceBefore = Buffer.from(slice);
  const path = join(dir, 'file');
  const got = await receiveToFile(Readable.from([...chunks, slice]), path, { mode: 0o600, headBytes: 4, bufferBytes: 100_000, freeChunks: true });
  const expected = Buffer.concat([data, slice]);
  assert.equal(got.bytes, expected.length);
  assert.equal(got.sha256, createHash('sha256').update(expected).digest('hex'));
  assert.deepEqual(readFileSync(path), expected);
  assert.ok(
    chunks.every((c) => c.buffer.detached),
    'every chunk that was all of its memory is freed',
  );
  assert.equal(slice.buffer.detached, false, 'a slice of a bigger buffer is left alone');
  assert.deepEqual(slice, sliceBefore);
});

test('a background datasync that fails fails the receive (the kernel tells a write error to one sync only)', async (t) => {
  const dir = scratch(t);
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
  await probe.close();
  let calls = 0;
  mock.method(proto, 'datasync', async () => {
    calls++;
    throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  });
  t.after(() => mock.restoreAll());
  const path = join(dir, 'file');
  await assert.rejects(
    receiveToFile(Readable.from([randomBytes(64 * 1024)]), path, { mode: 0o600, headBytes: 4, bufferBytes: 8192, syncEveryBytes: 16_384, direct: false }),
    {
      code: 'EIO',
    },
  );
  assert.ok(calls >= 1, 'the writeback was started as the file grew');
  rmSync(path);
});

test('a file source is read from its start into the buffers, whatever its size, and left open for its owner', async (t) => {
  const dir = scratch(t);
  for (const length of [0, 3, 8192, 8193, 100_001]) {
    const data = randomBytes(length);
    writeFileSync(join(dir, `from-${length}`), data);
    const from = await open(join(dir, `from-${length}`), 'r');
    const path = join(dir, `to-${length}`);
    const got = await receiveToFile({ file: from }, path, { mode: 0o600, headBytes: 4, bufferBytes: 8192 });
    assert.equal(got.bytes, length);
    assert.equal(got.sha256, createHash('sha256').update(data).digest('hex'));
    assert.deepEqual(got.head, data.subarray(0, 4));
    assert.deepEqual(readFileSync(path), data);
    assert.equal((await from.stat()).size, length, 'still open');
    await from.close();
  }
});
