// Receiving a stream into a new file in one pass: hashed (sha256) as it arrives, written in
// large writes (the library syncs the file once, after its rename: store/durable.ts). Each chunk
// is copied at once into one of a few preallocated buffers, so it dies young (piped into a write
// stream, 64 KiB socket chunks were kept until written and the upload was GC-bound). A full
// buffer is handed to a worker thread that writes it to the file and hashes it
// (store-worker.ts; the buffers are shared with it), while the next ones fill. Full buffers are
// written with direct I/O (O_DIRECT) where the file system has it: the disk takes them from the
// buffers, so there is no copy into the page cache and nothing left to write back when the
// library syncs (on this VM, with free page reporting, 512 MiB into fresh page-cache pages took
// 0.2 s or 1.5 s by luck; buffered and synced, 0.35–1.5 s; direct, 0.45–0.5 s).
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StoreWorker } from './store-worker.ts';

/** The size of each write to the file. */
export const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * Buffers per upload (shared memory, kept with the idle worker): one filling, the others queued
 * for the worker, so the network is read on while the worker waits for a CPU on a loaded machine.
 */
export const RECEIVE_BUFFERS = 8;
/**
 * Without direct I/O, written data is pushed to the disk (a datasync, in the background) every this many bytes, so
 * the disk writes while the network reads, and the caller's sync at the end has only the tail
 * left: a whole 512 MiB upload's sync took 0.2–0.5 s, after the last byte, on the answer's path.
 */
export const SYNC_EVERY_BYTES = 32 * 1024 * 1024;
/** Progress is told at most this often, in bytes. */
export const PROGRESS_EVERY_BYTES = 1024 * 1024;

export interface Received {
  readonly bytes: number;
  readonly sha256: string;
  /** The first `headBytes` bytes (fewer if the stream was shorter). */
  readonly head: Buffer;
}

/** A file to receive from (a regular file or a block device): read straight into the buffers, no chunks between. */
export interface FileSource {
  readonly file: FileHandle;
}

export type ReceiveSource = Readable | FileSource;

const isFileSource = (source: ReceiveSource): source is FileSource => 'file' in source && !('pipe' in source);

export interface ReceiveOptions {
  /** File mode of the new file. */
  readonly mode: number;
  /** How many of the first bytes to keep (to tell the format). */
  readonly headBytes: number;
  readonly onProgress?: ((bytes: number) => void) | undefined;
  readonly bufferBytes?: number;
  readonly syncEveryBytes?: number;
  /** Full buffers written with direct I/O where the file system allows it (the default), else all through the page cache. */
  readonly direct?: boolean;
  /**
   * The source's chunks are nobody else's (a request body, a file read stream): each one's
   * memory is freed as soon as it is copied. Never for a source whose chunks are kept elsewhere.
   */
  readonly freeChunks?: boolean;
}

/**
 * Frees a chunk's memory now, if the chunk is all of its ArrayBuffer (not a slice of a pool or
 * of a bigger buffer): detaching it hands the memory back at once. Otherwise V8 counts a
 * chunk's memory until a full garbage collection finds it dead, and 64 KiB chunks of a request
 * body (each a copy, made by Node's HTTP parser) started one every 64 MiB: ~1 s of an upload.
 */
function free(chunk: Buffer): void {
  const memory = chunk.buffer;
  if (!(memory instanceof ArrayBuffer) || chunk.byteOffset !== 0 || memory.byteLength !== chunk.length) return;
  try {
    memory.transfer(0);
  } catch (error) {
    // An ArrayBuffer its maker made non-detachable: left to the collector.
    if (!(error instanceof TypeError)) throw error;
  }
}

/**
 * Copies as much of `source` from `from` as fits into `target` at `at`; returns how much. With
 * one memcpy: Buffer#copy of a whole buffer goes through TypedArray#set, which V8 does word by
 * word with relaxed atomics when the target is shared memory (~3× slower: an eighth of anvil
 * serve's CPU in an upload), while Buffer#fill with a buffer as long as the range is one memcpy.
 */
function copyInto(target: Buffer, at: number, source: Buffer, from: number): number {
  const n = Math.min(source.length - from, target.length - at);
  target.fill(from === 0 && n === source.length ? source : source.subarray(from, from + n), at, at + n);
  return n;
}

/**
 * Streams `source` into a new file at `path` (which must not exist), hashing it on the way. A
 * FileSource is read from its start and left open for its owner to close. Its
 * writeback is started as it goes, but it is not known to be on disk when this resolves: the
 * caller syncs what it keeps. On an error the file is left for the caller to remove.
 */
export async function receiveToFile(source: ReceiveSource, path: string, options: ReceiveOptions): Promise<Received> {
  const size = options.bufferBytes ?? RECEIVE_BUFFER_BYTES;
  const syncEvery = options.syncEveryBytes ?? SYNC_EVERY_BYTES;
  const stream = isFileSource(source) ? undefined : source;
  // Until the loop below listens, an error of the stream (a client gone) must not be unhandled;
  // the loop then throws it, since the stream keeps it.
  const ignore = () => {};
  stream?.on('error', ignore);
  let file: FileHandle;
  try {
    file = await open(path, 'wx', options.mode);
  } catch (error) {
    stream?.off('error', ignore);
    stream?.destroy();
    throw error;
  }
  // The same file for direct I/O, where the file system has it: full buffers go from them to
  // the disk, with no copy into the page cache (on this VM a fresh page-cache page can cost a
  // host page fault: 512 MiB into the cache took 0.2 s to 1.5 s) and no writeback after.
  const direct = options.direct === false ? undefined : await open(path, constants.O_WRONLY | constants.O_DIRECT).catch(() => undefined);
  const { worker, buffers } = StoreWorker.acquire(RECEIVE_BUFFERS, size, file.fd, direct?.fd);
  // What each buffer is busy with (its write and its hashing), until it may be filled again.
  const busy: (Promise<unknown> | undefined)[] = buffers.map(() => undefined);
  // The background datasync under way, if any (one at a time), how far the writes had gone
  // when the last one began, and its failure: kept to throw, since the kernel reports a write
  // error to one sync only, and the caller's sync (on a file descriptor of its own) would miss it.
  let syncing: Promise<void> | undefined;
  let syncedTo = 0;
  let syncError: unknown;
  try {
    let current = 0;
    let fill = 0;
    let written = 0;
    let bytes = 0;
    let reported = 0;
    // Taken from the first buffer before its first write (it is reused afterwards).
    let head: Buffer | undefined;
    const flush = async (): Promise<void> => {
      const data = buffers[current]!.subarray(0, fill);
      head ??= Buffer.from(data.subarray(0, Math.min(options.headBytes, fill)));
      const work = worker.store(current, fill, written);
      // Seen when the buffer comes round again (or at the end); meanwhile an error must not go unhandled.
      work.catch(() => {});
      busy[current] = work;
      written += fill;
      if (!direct && !syncing && written - syncedTo >= syncEvery) {
        syncedTo = written;
        syncing = file.datasync().then(
          () => {
            syncing = undefined;
          },
          (error: unknown) => {
            syncError ??= error;
            syncing = undefined;
          },
        );
      }
      fill = 0;
      current = (current + 1) % buffers.length;
      await busy[current];
      busy[current] = undefined;
    };
    const progress = () => {
      if (options.onProgress && bytes - reported >= PROGRESS_EVERY_BYTES) {
        reported = bytes;
        options.onProgress(bytes);
      }
    };
    if (stream) {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        for (let offset = 0; offset < chunk.length; ) {
          const copied = copyInto(buffers[current]!, fill, chunk, offset);
          fill += copied;
          offset += copied;
          if (fill === size) await flush();
        }
        if (options.freeChunks) free(chunk);
        progress();
      }
    } else {
      const from = (source as FileSource).file;
      for (let read = -1; read !== 0; ) {
        read = (await from.read(buffers[current]!, fill, size - fill, bytes)).bytesRead;
        fill += read;
        bytes += read;
        if (fill === size) await flush();
        progress();
      }
    }
    if (fill > 0) await flush();
    await Promise.all(busy);
    await syncing;
    if (syncError !== undefined) throw syncError;
    return { bytes, sha256: await worker.digest(), head: head ?? Buffer.alloc(0) };
  } finally {
    // Never close under a write in flight (the source failed meanwhile): the worker writes to this descriptor.
    await Promise.allSettled(busy);
    await syncing;
    await worker.release();
    await direct?.close();
    await file.close();
    stream?.off('error', ignore);
  }
}
