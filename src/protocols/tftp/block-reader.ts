// Reads a file in large chunks ahead of the sender, so the per-packet path never waits on
// the disk and a file of hundreds of MiB is streamed with a few chunks in memory. Blocks
// are views into a chunk; chunks are never reused while a send could still read them.
import type { TftpFile } from './handler.ts';

/** Bytes read per chunk: large enough to amortise the thread-pool round trip of a read. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;

type Chunk = { readonly data: Buffer; readonly bytes: number };

export class BlockReader {
  readonly #file: TftpFile;
  readonly #blockSize: number;
  readonly #blocksPerChunk: number;
  readonly #chunks = new Map<number, Chunk>();
  readonly #loading = new Map<number, Promise<void>>();
  #lastBlock: number | undefined;
  #failure: unknown;

  /** `windowSize` blocks must fit in two chunks, so a window being retransmitted is always held. */
  constructor(file: TftpFile, blockSize: number, windowSize: number, chunkBytes = DEFAULT_CHUNK_BYTES) {
    this.#file = file;
    this.#blockSize = blockSize;
    let blocks = Math.max(Math.ceil(chunkBytes / blockSize), 2 * windowSize);
    // A small file (a rendered config) gets one chunk of its own size, not 256 KiB.
    if (file.size !== undefined) blocks = Math.min(blocks, Math.floor(file.size / blockSize) + 1);
    this.#blocksPerChunk = blocks;
  }

  /** The number of the final block (the first shorter than blksize), once the end of file has been read. */
  get lastBlock(): number | undefined {
    return this.#lastBlock;
  }

  /**
   * The payload of block `n` (1-based, absolute: no 16-bit wrap), or undefined when its
   * chunk is not in memory yet — then call load(n). Asking for a block prefetches the next chunk.
   */
  block(n: number): Buffer | undefined {
    const index = Math.floor((n - 1) / this.#blocksPerChunk);
    const chunk = this.#chunks.get(index);
    if (chunk === undefined) return undefined;
    if (!this.#loading.has(index + 1) && !this.#chunks.has(index + 1) && this.#mayHaveChunk(index + 1)) {
      this.#startLoad(index + 1);
      // Chunks two behind can no longer be in a window: free them.
      this.#chunks.delete(index - 2);
    }
    const start = (n - 1 - index * this.#blocksPerChunk) * this.#blockSize;
    const end = Math.min(start + this.#blockSize, chunk.bytes);
    return chunk.data.subarray(start, Math.max(start, end));
  }

  /** Loads the chunk holding block `n`; rejects with the file's read error. */
  load(n: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const index = Math.floor((n - 1) / this.#blocksPerChunk);
    if (this.#chunks.has(index)) return Promise.resolve();
    return this.#loading.get(index) ?? this.#startLoad(index);
  }

  #mayHaveChunk(index: number): boolean {
    return this.#lastBlock === undefined || index * this.#blocksPerChunk < this.#lastBlock;
  }

  #startLoad(index: number): Promise<void> {
    const chunkBytes = this.#blocksPerChunk * this.#blockSize;
    const data = Buffer.allocUnsafe(chunkBytes);
    const loading = this.#file.read(data, index * chunkBytes).then(
      (bytes) => {
        this.#loading.delete(index);
        this.#chunks.set(index, { data, bytes });
        if (bytes < chunkBytes) {
          // The end of file: the final block is the first shorter than blksize, possibly empty (RFC 1350 §6).
          this.#lastBlock = index * this.#blocksPerChunk + Math.floor(bytes / this.#blockSize) + 1;
        }
      },
      (error: unknown) => {
        this.#loading.delete(index);
        this.#failure = error;
        throw error;
      },
    );
    this.#loading.set(index, loading);
    loading.catch(() => {}); // a prefetch nobody awaits yet must not be an unhandled rejection
    return loading;
  }
}
