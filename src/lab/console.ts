// A lab VM's serial console. QEMU serves its serial port on a Unix socket to one client at a
// time, so the process supervising the VM holds that one connection and shares it: a ring
// buffer of recent output (for "wait until the console says X" and for web pages), and any
// number of Duplex streams (for the IPMI SOL bridge), which outlive power cycles.
import { EventEmitter } from 'node:events';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AnvilError } from '../common/errors.ts';

/** How much recent console output is kept. */
export const DEFAULT_CONSOLE_BUFFER_BYTES = 256 * 1024;
/** How long connecting to the serial socket keeps trying while QEMU creates it. */
export const DEFAULT_SERIAL_CONNECT_TIMEOUT_MS = 10_000;
export const SERIAL_CONNECT_RETRY_MS = 50;
/** How long waitFor() waits by default. */
export const DEFAULT_CONSOLE_WAIT_MS = 60_000;

/** The most recent output of a console, bounded; counts every byte ever written so callers can wait for output after a point. */
export class ConsoleBuffer {
  readonly #capacity: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #total = 0;
  readonly #events = new EventEmitter<{ data: [] }>();

  constructor(capacity: number = DEFAULT_CONSOLE_BUFFER_BYTES) {
    this.#capacity = capacity;
  }

  /** Bytes ever written: a mark for waitFor({ since }). */
  get total(): number {
    return this.#total;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    this.#total += chunk.length;
    while (this.#size > this.#capacity && this.#chunks.length > 0) {
      const excess = this.#size - this.#capacity;
      const first = this.#chunks[0]!;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
      }
    }
    this.#events.emit('data');
  }

  /** The kept bytes, optionally only those written after the mark `since`. */
  bytes(since = 0): Buffer {
    const all = Buffer.concat(this.#chunks);
    const start = Math.max(0, since - (this.#total - all.length));
    return all.subarray(start);
  }

  /** The kept output as text (UTF-8, invalid bytes replaced). */
  text(since = 0): string {
    return this.bytes(since).toString('utf8');
  }

  /**
   * Resolves with the text once the output after `since` (default: everything kept) contains
   * the string or matches the pattern; rejects with LAB_TIMEOUT, naming what it saw last.
   */
  waitFor(pattern: string | RegExp, options: { since?: number; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<string> {
    const since = options.since ?? 0;
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONSOLE_WAIT_MS;
    const matches = (): boolean => {
      const text = this.text(since);
      return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
    };
    if (matches()) return Promise.resolve(this.text(since));
    return new Promise<string>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#events.off('data', onData);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const onData = (): void => {
        if (!matches()) return;
        cleanup();
        resolve(this.text(since));
      };
      const onAbort = (): void => {
        cleanup();
        reject(options.signal?.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        const tail = this.text(since).slice(-400);
        reject(
          new AnvilError('LAB_TIMEOUT', 'unavailable', `console did not show ${String(pattern)} within ${timeoutMs} ms; last output: ${JSON.stringify(tail)}`),
        );
      }, timeoutMs);
      this.#events.on('data', onData);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Connects to a QEMU serial socket, retrying while QEMU creates it. */
export async function connectSerial(path: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Socket> {
  const deadline = performance.now() + (options.timeoutMs ?? DEFAULT_SERIAL_CONNECT_TIMEOUT_MS);
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = createConnection({ path });
        socket.once('error', reject);
        socket.once('connect', () => {
          socket.off('error', reject);
          resolve(socket);
        });
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || performance.now() >= deadline) {
        throw new AnvilError(
          'LAB_CONSOLE',
          'unavailable',
          `cannot connect to the serial console ${path} (${code ?? (error as Error).message}); is the VM on?`,
          { cause: error },
        );
      }
    }
    await sleep(SERIAL_CONNECT_RETRY_MS, undefined, { signal: options.signal });
  }
}

/**
 * The one connection to a VM's serial socket, shared. attach() is called at each power-on
 * with the new socket; streams opened with open() keep working across power cycles (while the
 * VM is off, what they write is dropped, as on a real serial line with nobody listening).
 */
export class SerialConsole {
  readonly buffer: ConsoleBuffer;
  #socket: Socket | undefined;
  readonly #streams = new Set<Duplex>();

  constructor(buffer: ConsoleBuffer = new ConsoleBuffer()) {
    this.buffer = buffer;
  }

  get connected(): boolean {
    return this.#socket !== undefined;
  }

  attach(socket: Socket): void {
    this.detach();
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer.push(chunk);
      for (const stream of this.#streams) stream.push(chunk);
    });
    // A serial line that goes away (QEMU exits) just stops carrying bytes.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
    });
  }

  detach(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  /** A stream onto the console: reads what the VM writes from now on, writes go to the VM's serial port. */
  open(): Duplex {
    const stream: Duplex = new Duplex({
      read: () => {},
      write: (chunk: Buffer, _encoding, callback) => {
        const socket = this.#socket;
        if (!socket || socket.destroyed) return callback();
        socket.write(chunk, () => callback());
      },
      destroy: (error, callback) => {
        this.#streams.delete(stream);
        callback(error);
      },
      final: (callback) => {
        this.#streams.delete(stream);
        stream.push(null);
        callback();
      },
    });
    this.#streams.add(stream);
    return stream;
  }

  /** Ends every stream and drops the connection. */
  close(): void {
    for (const stream of this.#streams) stream.push(null);
    this.#streams.clear();
    this.detach();
  }
}
