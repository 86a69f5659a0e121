// A worker thread that writes an upload's buffers to its file and hashes them (sha256), so the
// main thread only reads the network. Node's hash update is synchronous (on the main thread it
// took a third of an upload), and a write through the thread pool plus a hash on a worker made
// two hand-offs per buffer: on a loaded machine each waited for a CPU (50–150 ms a 4 MiB write),
// and the upload went at the pace of those waits. Here one thread does both, as nginx's worker
// does, and the main thread runs ahead by the buffers it has. The buffers are shared memory.
// A worker costs ~40 ms of CPU to start (and far more waiting, on a loaded machine), so one
// idle worker, with its buffers, is kept for the next upload for STORE_WORKER_IDLE_MS,
// unreferenced (it never keeps anvil alive).
import { Worker } from 'node:worker_threads';

/** How long an idle worker is kept for the next upload. */
export const STORE_WORKER_IDLE_MS = 60_000;

// Told `begin` (buffers, and the file descriptor to write to, if any), then each buffer to
// store in order, then `end` for the digest; it answers each, a failure with its error. Plain
// CommonJS source, so it runs the same from the sources and from the bundled CLI (which has no
// file of its own to hand a Worker).
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { createHash } = require('node:crypto');
let hash, views, fd;
parentPort.on('message', (m) => {
  try {
    if (m.begin) {
      hash = createHash('sha256');
      views = m.buffers.map((b) => new Uint8Array(b));
      fd = m.fd;
      return parentPort.postMessage({});
    }
    if (m.end) {
      return parentPort.postMessage({ sha256: hash.digest('hex') });
    }
    const data = views[m.index].subarray(0, m.length);
    if (fd !== undefined) for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, m.position + done);
    hash.update(data);
    parentPort.postMessage({});
  } catch (error) {
    parentPort.postMessage({ error: { message: error.message, code: error.code, syscall: error.syscall } });
  }
});
`;

type Answer = { sha256?: string; error?: { message: string; code?: string; syscall?: string } };

export class StoreWorker {
  static #idle: StoreWorker | undefined;

  readonly #worker: Worker;
  readonly #waiting: { resolve: (answer: Answer) => void; reject: (error: Error) => void }[] = [];
  #failed: Error | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Begun and not yet digested. */
  #open = false;
  /** The buffers it was last handed, kept with it while idle for the next upload. */
  #shared: SharedArrayBuffer[] = [];

  private constructor() {
    this.#worker = new Worker(SOURCE, { eval: true, stdout: true, stderr: true });
    this.#worker.on('message', (answer: Answer) => {
      const waiting = this.#waiting.shift();
      if (!answer.error) return waiting?.resolve(answer);
      waiting?.reject(Object.assign(new Error(answer.error.message), { code: answer.error.code, syscall: answer.error.syscall }));
    });
    const fail = (error: Error) => {
      this.#failed ??= error;
      for (const w of this.#waiting.splice(0)) w.reject(error);
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the upload's worker thread exited (code ${code}) before it was done`)));
  }

  /**
   * A worker for one upload, writing to `fd` (if given) and hashing from the start: the idle
   * one if there is one, else a new one. Returns it with `count` shared buffers of `size` bytes.
   */
  static acquire(count: number, size: number, fd?: number): { worker: StoreWorker; buffers: Buffer[] } {
    let worker = StoreWorker.#idle;
    StoreWorker.#idle = undefined;
    if (worker && !worker.#failed) {
      clearTimeout(worker.#timer);
      worker.#worker.ref();
    } else {
      void worker?.terminate();
      worker = new StoreWorker();
    }
    // The last upload's buffers, if they fit: fresh memory costs a page fault per page, and
    // zeroing, on each upload.
    if (worker.#shared.length !== count || worker.#shared[0]?.byteLength !== size)
      worker.#shared = Array.from({ length: count }, () => new SharedArrayBuffer(size));
    worker.#open = true;
    worker.#ask({ begin: true, buffers: worker.#shared, fd }).catch(() => {});
    return { worker, buffers: worker.#shared.map((b) => Buffer.from(b)) };
  }

  #ask(message: object): Promise<Answer> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#worker.postMessage(message);
    });
  }

  /** Writes the first `length` bytes of buffer `index` at `position`, and hashes them; the buffer may be refilled once this resolves. */
  async store(index: number, length: number, position: number): Promise<void> {
    await this.#ask({ index, length, position });
  }

  async digest(): Promise<string> {
    this.#open = false;
    return (await this.#ask({ end: true })).sha256!;
  }

  /** Done with it: kept idle for the next upload if nothing is in flight, it has not failed, and no other is kept; else ended. */
  async release(): Promise<void> {
    if (this.#failed || this.#waiting.length > 0 || StoreWorker.#idle) return this.terminate();
    // An upload that failed midway: its hash is dropped, so the worker is as after a digest.
    if (this.#open) void this.digest().catch(() => {});
    StoreWorker.#idle = this;
    this.#worker.unref();
    this.#timer = setTimeout(() => {
      if (StoreWorker.#idle === this) StoreWorker.#idle = undefined;
      void this.terminate();
    }, STORE_WORKER_IDLE_MS);
    this.#timer.unref();
  }

  async terminate(): Promise<void> {
    clearTimeout(this.#timer);
    this.#worker.removeAllListeners('exit');
    this.#worker.on('exit', () => {});
    this.#failed ??= new Error("the upload's worker thread was ended");
    for (const w of this.#waiting.splice(0)) w.reject(this.#failed);
    await this.#worker.terminate();
  }
}
