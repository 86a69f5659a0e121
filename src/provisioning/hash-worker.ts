// A sha256 computed on a worker thread over buffers shared with it, so that hashing an upload
// overlaps reading the network and writing the disk (Node's hash update is synchronous: on the
// main thread it took a third of an upload's time, during which the socket was not read).
// A worker costs ~40 ms of CPU to start, and 70–300 ms of waiting on a loaded machine, during
// which the upload stalls once its buffers are full; so one idle worker, with its buffers, is
// kept for the next upload for HASH_WORKER_IDLE_MS, unreferenced (it never keeps anvil alive).
import { Worker } from 'node:worker_threads';

/** How long an idle hashing worker is kept for the next upload. */
export const HASH_WORKER_IDLE_MS = 60_000;

// Told `begin`, then the buffers to hash in order, then `end` for the digest; it answers each.
// Plain CommonJS source, so it runs the same from the sources and from the bundled CLI (which
// has no file of its own to hand a Worker).
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const views = workerData.buffers.map((b) => new Uint8Array(b));
let hash;
parentPort.on('message', (m) => {
  if (m.begin) {
    hash = createHash('sha256');
    return parentPort.postMessage({});
  }
  if (m.end) return parentPort.postMessage({ sha256: hash.digest('hex') });
  hash.update(views[m.index].subarray(0, m.length));
  parentPort.postMessage({});
});
`;

type Answer = { sha256?: string };

export class HashWorker {
  static #idle: HashWorker | undefined;

  /** Buffers shared with the worker: fill one, then hand it to update(). */
  readonly buffers: readonly Buffer[];
  readonly #size: number;
  readonly #worker: Worker;
  readonly #waiting: { resolve: (answer: Answer) => void; reject: (error: Error) => void }[] = [];
  #failed: Error | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(count: number, size: number) {
    this.#size = size;
    const shared = Array.from({ length: count }, () => new SharedArrayBuffer(size));
    this.buffers = shared.map((b) => Buffer.from(b));
    this.#worker = new Worker(SOURCE, { eval: true, workerData: { buffers: shared }, stdout: true, stderr: true });
    this.#worker.on('message', (answer: Answer) => this.#waiting.shift()?.resolve(answer));
    const fail = (error: Error) => {
      this.#failed ??= error;
      for (const w of this.#waiting.splice(0)) w.reject(error);
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the hashing worker exited (code ${code}) before it was done`)));
  }

  /** A worker with `count` buffers of `size` bytes, hashing from the start: the idle one if it fits, else a new one. */
  static acquire(count: number, size: number): HashWorker {
    const idle = HashWorker.#idle;
    HashWorker.#idle = undefined;
    let hasher: HashWorker;
    if (idle && !idle.#failed && idle.buffers.length === count && idle.#size === size) {
      clearTimeout(idle.#timer);
      idle.#worker.ref();
      hasher = idle;
    } else {
      void idle?.terminate();
      hasher = new HashWorker(count, size);
    }
    hasher.#ask({ begin: true }).catch(() => {});
    return hasher;
  }

  #ask(message: object): Promise<Answer> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#worker.postMessage(message);
    });
  }

  /** Resolves once the first `length` bytes of buffer `index` are hashed (it may be refilled then). */
  async update(index: number, length: number): Promise<void> {
    await this.#ask({ index, length });
  }

  async digest(): Promise<string> {
    return (await this.#ask({ end: true })).sha256!;
  }

  /**
   * Done with it: kept idle for the next upload if it finished cleanly (nothing in flight, no
   * failure) and no other is kept, else ended.
   */
  async release(): Promise<void> {
    if (this.#failed || this.#waiting.length > 0 || HashWorker.#idle) return this.terminate();
    HashWorker.#idle = this;
    this.#worker.unref();
    this.#timer = setTimeout(() => {
      if (HashWorker.#idle === this) HashWorker.#idle = undefined;
      void this.terminate();
    }, HASH_WORKER_IDLE_MS);
    this.#timer.unref();
  }

  async terminate(): Promise<void> {
    clearTimeout(this.#timer);
    this.#worker.removeAllListeners('exit');
    this.#worker.on('exit', () => {});
    this.#failed ??= new Error('the hashing worker was ended');
    for (const w of this.#waiting.splice(0)) w.reject(this.#failed);
    await this.#worker.terminate();
  }
}
