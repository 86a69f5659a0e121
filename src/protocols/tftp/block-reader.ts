// Reads a file in large chunks ahead of the sender, so the per-packet path never waits on
// the disk and a file of hundreds of MiB is streamed with a few chunks in memory. A chunk
// is laid out as ready DATA packets (RFC 1350 §5: opcode, block number, payload), so sending
// a block is one send of one view, with no allocation or copy per packet. Chunks are never
// reused while a send could still read them.
import { Opcode } from './constants.ts';
import type { TftpFile } from './handler.ts';

/** Opcode and block number in front of each payload. */
const DATA_HEADER_BYTES = 4;

/**
 * Bytes read per chunk: large enough to amortise the thread-pool round trip of a read,
 * small enough that a thousand machines fetching a large file at once hold ~200 MB
 * (three chunks per transfer: the one before, for a window being resent, and the next).
 */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

/** `packets` holds one slot of DATA_HEADER_BYTES + blksize per block; `bytes` is the file bytes it holds. */
type Chunk = { readonly packets: Buffer; readonly bytes: number };

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
    // A small file (a rendered config) gets one chunk of its own size, not a full chunk.
    if (file.size !== undefined) blocks = Math.min(blocks, Math.floor(file.size / blockSize) + 1);
    this.#blocksPerChunk = blocks;
  }

  /** The number of the final block (the first shorter than blksize), once the end of file has been read. */
  get lastBlock(): number | undefined {
    return this.#lastBlock;
  }

  /** The payload of block `n`, or undefined when its chunk is not in memory yet (see packet). */
  block(n: number): Buffer | undefined {
    return this.packet(n)?.subarray(DATA_HEADER_BYTES);
  }

  /**
   * The whole DATA packet of block `n` (1-based, absolute: no 16-bit wrap), or undefined
   * when its chunk is not in memory yet — then call load(n). Asking prefetches the next chunk.
   */
  packet(n: number): Buffer | undefined {
    const index = Math.floor((n - 1) / this.#blocksPerChunk);
    const chunk = this.#chunks.get(index);
    if (chunk === undefined) return undefined;
    if (!this.#loading.has(index + 1) && !this.#chunks.has(index + 1) && this.#mayHaveChunk(index + 1)) {
      this.#startLoad(index + 1);
      // Chunks two behind can no longer be in a window: free them.
      this.#chunks.delete(index - 2);
    }
    const slot = n - 1 - index * this.#blocksPerChunk;
    const payload = Math.max(0, Math.min(this.#blockSize, chunk.bytes - slot * this.#blockSize));
    const start = slot * (DATA_HEADER_BYTES + this.#blockSize);
    return chunk.packets.subarray(start, start + DATA_HEADER_BYTES + payload);
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
    const blockSize = this.#blockSize;
    const blocks = this.#blocksPerChunk;
    const chunkBytes = blocks * blockSize;
    const data = Buffer.allocUnsafe(chunkBytes);
    const loading = this.#file.read(data, index * chunkBytes).then(
      (bytes) => {
        this.#loading.delete(index);
        const slot = DATA_HEADER_BYTES + blockSize;
        const packets = Buffer.allocUnsafe(blocks * slot);
        const firstBlock = index * blocks + 1;
        for (let i = 0; i * blockSize <= bytes && i < blocks; i++) {
          packets.writeUInt16BE(Opcode.DATA, i * slot);
          packets.writeUInt16BE((firstBlock + i) & 0xffff, i * slot + 2); // block numbers wrap to 0 after 65535
          data.copy(packets, i * slot + DATA_HEADER_BYTES, i * blockSize, Math.min(bytes, (i + 1) * blockSize));
        }
        this.#chunks.set(index, { packets, bytes });
        if (bytes < chunkBytes) {
          // The end of file: the final block is the first shorter than blksize, possibly empty (RFC 1350 §6).
          this.#lastBlock = index * blocks + Math.floor(bytes / blockSize) + 1;
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
