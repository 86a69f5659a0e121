// A worker thread that writes an upload's buffers to its file and hashes them (sha256), so the
// main thread only reads the network. Node's hash update is synchronous (on the main thread it
// took a third of an upload), and a write through the thread pool plus a hash on a worker made
// two hand-offs per buffer: on a loaded machine each waited for a CPU (50–150 ms a 4 MiB write),
// and the upload went at the pace of those waits. Here one thread does both, as nginx's worker
// does, and the main thread runs ahead by the buffers it has. The buffers are shared memory.
// Each write goes through the thread pool while the worker hashes the same buffer: a direct
// write waits for the disk (~2–4 ms for 4 MiB), which hashing in turn would add to.
// A worker costs ~40 ms of CPU to start (and far more waiting, on a loaded machine), so one
// idle worker, with its buffers, is kept for the next upload for STORE_WORKER_IDLE_MS,
// unreferenced (it never keeps anvil alive).
import { Worker } from 'node:worker_threads';

/** How long an idle worker is kept for the next upload. */
export const STORE_WORKER_IDLE_MS = 60_000;
/**
 * Direct I/O (O_DIRECT) wants the memory, the file position and the length aligned to the
 * device's logical block (512 bytes here; 4096 covers every disk). Each buffer starts at a
 * multiple of this in page-aligned memory; a write of another length or position, such as an
 * upload's last, goes through the page cache.
 */
export const DIRECT_ALIGN = 4096;
/** WebAssembly's page: shared memory is allocated in these. */
const WASM_PAGE = 65536;
/** WebAssembly.Memory (the compiler's libraries here have no WebAssembly types). */
const { Memory } = (
  globalThis as unknown as { WebAssembly: { Memory: new (pages: { initial: number; maximum: number; shared: true }) => { buffer: SharedArrayBuffer } } }
).WebAssembly;

// Told `begin` (buffers, and the file descriptor to write to, if any), then each buffer to
// store in order, then `end` for the digest; it answers each, a failure with its error. Plain
// CommonJS source, so it runs the same from the sources and from the bundled CLI (which has no
// file of its own to hand a Worker).
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { write } = require('node:fs');
const { createHash } = require('node:crypto');
let hash, views, fd, direct, answered;
// Writes data at position, all of it, through the thread pool; direct (O_DIRECT) when it may be.
const writeAll = (data, position) => new Promise((resolve, reject) => {
  const aligned = direct !== undefined && data.length % ${DIRECT_ALIGN} === 0 && position % ${DIRECT_ALIGN} === 0;
  const to = aligned ? direct : fd;
  const next = (done) => {
    if (done === data.length) return resolve();
    write(to, data, done, data.length - done, position + done, (error, n) => {
      // A descriptor or memory that direct I/O refuses after all: the rest goes through the page cache.
      if (error && to === direct && error.code === 'EINVAL') return (direct = undefined), writeAll(data.subarray(done), position + done).then(resolve, reject);
      if (error) return reject(error);
      next(done + n);
    });
  };
  next(0);
});
const fail = (error) => parentPort.postMessage({ error: { message: error.message, code: error.code, syscall: error.syscall } });
parentPort.on('message', (m) => {
  try {
    if (m.begin) {
      hash = createHash('sha256');
      views = Array.from({ length: m.count }, (_, i) => new Uint8Array(m.memory, i * m.stride, m.size));
      fd = m.fd;
      direct = m.direct;
      answered = Promise.resolve();
      return parentPort.postMessage({});
    }
    if (m.end) {
      // After the writes in flight (each answered already, a failure with its error).
      return void answered.then(() => parentPort.postMessage({ sha256: hash.digest('hex') }));
    }
    const data = views[m.index].subarray(0, m.length);
    // The write starts now, on the thread pool, and this thread hashes the same buffer
    // meanwhile. Started from the completion of the write before, it waited for this thread:
    // the messages queued are taken in one go, so each hash ran with no write under way (a
    // 512 MiB upload took the hashing's 0.3 s plus the disk's 0.25 s, not the larger of the two).
    const written = fd === undefined ? Promise.resolve() : writeAll(data, m.position);
    hash.update(data);
    // Answered in order (the main thread takes each answer for the next buffer it handed over,
    // and refills it), each with its own outcome.
    const outcome = written.then(() => undefined, (error) => error);
    answered = Promise.all([answered, outcome]).then(([, error]) => (error ? fail(error) : parentPort.postMessage({})));
  } catch (error) {
    fail(error);
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
  /** The memory of the buffers it was last handed, and their shape, kept with it while idle for the next upload. */
  #shared: { memory: SharedArrayBuffer; count: number; size: number; stride: number } | undefined;

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
   * A worker for one upload, writing to `fd` (if given; full aligned buffers through `direct`,
   * a descriptor of the same file opened with O_DIRECT, if given) and hashing from the start:
   * the idle one if there is one, else a new one. Returns it with `count` shared buffers of
   * `size` bytes.
   */
  static acquire(count: number, size: number, fd?: number, direct?: number): { worker: StoreWorker; buffers: Buffer[] } {
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
    // zeroing, on each upload. A shared WebAssembly memory, since it is page-aligned (a
    // SharedArrayBuffer's is not, and direct I/O refuses it).
    if (worker.#shared?.count !== count || worker.#shared.size !== size) {
      const stride = Math.ceil(size / DIRECT_ALIGN) * DIRECT_ALIGN;
      const pages = Math.max(1, Math.ceil((stride * count) / WASM_PAGE));
      const memory = new Memory({ initial: pages, maximum: pages, shared: true }).buffer;
      worker.#shared = { memory, count, size, stride };
    }
    const shared = worker.#shared;
    worker.#open = true;
    worker.#ask({ begin: true, ...shared, fd, direct }).catch(() => {});
    return { worker, buffers: Array.from({ length: count }, (_, i) => Buffer.from(shared.memory, i * shared.stride, size)) };
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
