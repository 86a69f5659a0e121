// Receiving a stream into a new file in one pass: hashed (sha256) as it arrives, written in
// large writes (the library syncs the file once, after its rename: store/durable.ts). A socket
// hands Node 64 KiB chunks; piped into a file write stream each of them is kept until written
// (and goes through writev in batches), which filled the old generation and made the upload
// GC-bound. Here each chunk is hashed and copied
// at once into one of two preallocated buffers, so it dies young; a full buffer is written while
// the other fills, and the source is only waited on when both are busy.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** The size of each write to the file (two buffers of it per upload). */
export const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/** Progress is told at most this often, in bytes. */
export const PROGRESS_EVERY_BYTES = 1024 * 1024;

export interface Received {
  readonly bytes: number;
  readonly sha256: string;
  /** The first `headBytes` bytes (fewer if the stream was shorter). */
  readonly head: Buffer;
}

export interface ReceiveOptions {
  /** File mode of the new file. */
  readonly mode: number;
  /** How many of the first bytes to keep (to tell the format). */
  readonly headBytes: number;
  readonly onProgress?: ((bytes: number) => void) | undefined;
  readonly bufferBytes?: number;
}

/** Writes all of `data` at `position`, however many writes it takes. */
async function writeAll(file: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await file.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Streams `source` into a new file at `path` (which must not exist), hashing it on the way. It
 * is not synced here: the caller syncs what it keeps. On an error the file is left for the
 * caller to remove.
 */
export async function receiveToFile(source: Readable, path: string, options: ReceiveOptions): Promise<Received> {
  const size = options.bufferBytes ?? RECEIVE_BUFFER_BYTES;
  const hash = createHash('sha256');
  // Until the loop below listens, an error of the source (a client gone) must not be unhandled;
  // the loop then throws it, since the stream keeps it.
  const ignore = () => {};
  source.on('error', ignore);
  let file: FileHandle;
  try {
    file = await open(path, 'wx', options.mode);
  } catch (error) {
    source.off('error', ignore);
    source.destroy();
    throw error;
  }
  // The write of the other buffer, if one is under way.
  let writing: Promise<void> | undefined;
  try {
    const buffers = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)] as const;
    let current = 0;
    let fill = 0;
    let written = 0;
    let bytes = 0;
    let reported = 0;
    // Taken from the first buffer before its first write (it is reused afterwards).
    let head: Buffer | undefined;
    const flush = async (): Promise<void> => {
      head ??= Buffer.from(buffers[current]!.subarray(0, Math.min(options.headBytes, fill)));
      await writing;
      writing = writeAll(file, buffers[current]!.subarray(0, fill), written);
      // Seen by the next flush (or the end); meanwhile an error must not go unhandled.
      writing.catch(() => {});
      written += fill;
      fill = 0;
      current ^= 1;
    };
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      for (let offset = 0; offset < chunk.length; ) {
        const copied = chunk.copy(buffers[current]!, fill, offset);
        fill += copied;
        offset += copied;
        if (fill === size) await flush();
      }
      if (options.onProgress && bytes - reported >= PROGRESS_EVERY_BYTES) {
        reported = bytes;
        options.onProgress(bytes);
      }
    }
    if (fill > 0) await flush();
    await writing;
    return { bytes, sha256: hash.digest('hex'), head: head ?? Buffer.alloc(0) };
  } finally {
    // Never close under a write in flight (the source failed meanwhile).
    await writing?.catch(() => {});
    await file.close();
    source.off('error', ignore);
  }
}
