// A small QMP client over a Unix socket (qmp-spec §2-§4): waits for QEMU to create its socket,
// negotiates capabilities, matches replies to commands by id, and emits asynchronous events.
// Owns the socket and timers; the wire format lives in codec.ts.
import { EventEmitter } from 'node:events';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeMessage, encodeCommand, QmpLineSplitter } from './codec.ts';
import type { QmpEvent, QmpGreeting, QmpId, QmpMessage } from './codec.ts';
import { QmpClosedError, QmpConnectError, QmpDecodeError, QmpError, QmpTimeoutError } from './errors.ts';

/** How long connect() keeps trying while QEMU starts and creates its socket. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Pause between connection attempts. */
export const DEFAULT_CONNECT_RETRY_MS = 50;
/** How long a connected socket may stay silent before the greeting; a socket another client holds never greets. */
export const DEFAULT_GREETING_TIMEOUT_MS = 5_000;
/** How long a command waits for its reply. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

export interface QmpConnectOptions {
  readonly connectTimeoutMs?: number;
  readonly retryIntervalMs?: number;
  readonly greetingTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  /** Opens the stream; replaceable in tests. Defaults to a Unix socket connection. */
  readonly dial?: (path: string) => Socket;
  readonly signal?: AbortSignal;
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export interface QmpClientEvents {
  /** Every asynchronous event QEMU sends. */
  event: [QmpEvent];
  /** The connection ended; `error` is set unless close() was called. */
  close: [error: Error | undefined];
  /** A line that could not be decoded; the connection goes on. */
  'decode-error': [QmpDecodeError];
}

function defaultDial(path: string): Socket {
  return createConnection({ path });
}

/** Opens the socket once; resolves when connected, rejects on the first error. */
function dialOnce(dial: (path: string) => Socket, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = dial(path);
    const onError = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Connection errors that mean "QEMU has not created or opened its socket yet": worth retrying. */
const RETRYABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

export class QmpClient extends EventEmitter<QmpClientEvents> {
  readonly path: string;
  #socket: Socket;
  #splitter = new QmpLineSplitter();
  #pending = new Map<QmpId, Pending>();
  #nextId = 1;
  #greeting: QmpGreeting | undefined;
  #greeted: { resolve: (g: QmpGreeting) => void; reject: (e: Error) => void } | undefined;
  #closed = false;
  #closing = false;
  readonly #commandTimeoutMs: number;

  private constructor(path: string, socket: Socket, commandTimeoutMs: number) {
    super();
    this.path = path;
    this.#socket = socket;
    this.#commandTimeoutMs = commandTimeoutMs;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', (error) => this.#finish(new QmpClosedError(`QMP connection ${path} failed: ${error.message}`, { cause: error })));
    socket.on('close', () => this.#finish(this.#closing ? undefined : new QmpClosedError(`QMP connection ${path} closed by QEMU`)));
  }

  /**
   * Connects to QEMU's QMP socket, retrying while QEMU starts, reads the greeting and leaves
   * capabilities negotiation mode (qmp-spec §4), so commands can be executed at once.
   */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    // A monotonic clock: a wall clock stepped (NTP, a VM host) must not stretch or cut the wait.
    const deadline = performance.now() + (options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const dial = options.dial ?? defaultDial;
    let attempts = 0;
    let socket: Socket | undefined;
    for (;;) {
      options.signal?.throwIfAborted();
      attempts++;
      try {
        socket = await dialOnce(dial, path);
        break;
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        if (!RETRYABLE.has(code) || performance.now() >= deadline) throw new QmpConnectError(path, attempts, error);
      }
      await sleep(options.retryIntervalMs ?? DEFAULT_CONNECT_RETRY_MS, undefined, { signal: options.signal });
    }
    const client = new QmpClient(path, socket, options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    try {
      await client.#waitGreeting(options.greetingTimeoutMs ?? DEFAULT_GREETING_TIMEOUT_MS);
      await client.execute('qmp_capabilities');
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** QEMU's greeting: its version and the capabilities it offered. */
  get greeting(): QmpGreeting {
    if (!this.#greeting) throw new QmpClosedError(`QMP connection ${this.path} has no greeting yet`);
    return this.#greeting;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs one command; resolves to its `return` value, rejects with QmpError carrying QEMU's class and desc. */
  execute<T = unknown>(command: string, args?: Readonly<Record<string, unknown>>, options: { timeoutMs?: number } = {}): Promise<T> {
    if (this.#closed || this.#closing) return Promise.reject(new QmpClosedError(`QMP connection ${this.path} is closed; cannot run '${command}'`));
    const id = this.#nextId++;
    const timeoutMs = options.timeoutMs ?? this.#commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new QmpTimeoutError(`QMP command '${command}' got no reply within ${timeoutMs} ms on ${this.path}`));
      }, timeoutMs);
      this.#pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.#socket.write(encodeCommand(command, args, id));
    });
  }

  /**
   * Resolves with the next event that matches (by name or predicate). Set it up before the
   * command that causes the event, so the event cannot slip past.
   */
  waitForEvent(match: string | ((event: QmpEvent) => boolean), options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<QmpEvent> {
    const test = typeof match === 'string' ? (e: QmpEvent) => e.event === match : match;
    const what = typeof match === 'string' ? `event ${match}` : 'the awaited event';
    const timeoutMs = options.timeoutMs ?? this.#commandTimeoutMs;
    return new Promise<QmpEvent>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const onEvent = (event: QmpEvent): void => {
        if (!test(event)) return;
        cleanup();
        resolve(event);
      };
      const onClose = (error: Error | undefined): void => {
        cleanup();
        reject(new QmpClosedError(`QMP connection ${this.path} closed while waiting for ${what}`, { cause: error }));
      };
      const onAbort = (): void => {
        cleanup();
        reject(options.signal?.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new QmpTimeoutError(`no ${what} within ${timeoutMs} ms on ${this.path}`));
      }, timeoutMs);
      if (this.#closed) return onClose(undefined);
      this.on('event', onEvent);
      this.once('close', onClose);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Every event from now on, until the connection closes or the signal aborts. */
  async *events(signal?: AbortSignal): AsyncGenerator<QmpEvent> {
    const queue: QmpEvent[] = [];
    let wake: (() => void) | undefined;
    const onEvent = (event: QmpEvent): void => {
      queue.push(event);
      wake?.();
    };
    const onStop = (): void => wake?.();
    this.on('event', onEvent);
    this.on('close', onStop);
    signal?.addEventListener('abort', onStop);
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.#closed || signal?.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.off('event', onEvent);
      this.off('close', onStop);
      signal?.removeEventListener('abort', onStop);
    }
  }

  /** Closes the connection; outstanding commands reject with QmpClosedError. QEMU keeps running. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end();
      // A peer that never answers the FIN must not hold close() open.
      setTimeout(() => this.#socket.destroy(), 1_000).unref();
    });
  }

  #waitGreeting(timeoutMs: number): Promise<QmpGreeting> {
    if (this.#greeting) return Promise.resolve(this.#greeting);
    return new Promise<QmpGreeting>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#greeted = undefined;
        reject(new QmpTimeoutError(`no QMP greeting on ${this.path} within ${timeoutMs} ms; another client may hold this socket (QEMU serves one at a time)`));
      }, timeoutMs);
      this.#greeted = {
        resolve: (g) => {
          clearTimeout(timer);
          resolve(g);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  #onData(chunk: string): void {
    let lines: string[];
    try {
      lines = this.#splitter.push(chunk);
    } catch (error) {
      this.#socket.destroy(error as Error);
      return;
    }
    for (const line of lines) {
      let message: QmpMessage;
      try {
        message = decodeMessage(line);
      } catch (error) {
        if (error instanceof QmpDecodeError && this.listenerCount('decode-error') > 0) this.emit('decode-error', error);
        continue;
      }
      this.#dispatch(message);
    }
  }

  #dispatch(message: QmpMessage): void {
    switch (message.kind) {
      case 'greeting':
        this.#greeting = message;
        this.#greeted?.resolve(message);
        this.#greeted = undefined;
        return;
      case 'event':
        this.emit('event', message);
        return;
      case 'return':
      case 'error': {
        if (message.id === undefined) return;
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.kind === 'return') pending.resolve(message.value);
        else pending.reject(new QmpError(pending.command, message.errorClass, message.desc));
        return;
      }
    }
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    for (const [, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(error ?? new QmpClosedError(`QMP connection ${this.path} closed before '${pending.command}' was answered`));
    }
    this.#pending.clear();
    this.#greeted?.reject(error ?? new QmpClosedError(`QMP connection ${this.path} closed before the greeting`));
    this.#greeted = undefined;
    this.emit('close', error);
  }
}
