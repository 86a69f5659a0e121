// anvil's read-only TFTP server (RFC 1350; options RFC 2347/2348/2349/7440). The listening
// socket only takes requests; each transfer runs on its own ephemeral socket (its TID),
// driven by the JS engine (transfer.ts) or the native pump (native-transfer.ts).
// Files come from a TftpFileHandler: the server knows nothing of machines.
import { isIPv6 } from 'node:net';
import { decodePacket, encodeError } from './codec.ts';
import type { TftpPacket, TftpRequest } from './codec.ts';
import {
  DEFAULT_BUSY_POLL_MICROSECONDS,
  DEFAULT_MAX_BLOCK_SIZE,
  DEFAULT_MAX_CLIENT_TIMEOUT_SECONDS,
  DEFAULT_MAX_RETRIES,
  DEFAULT_MAX_TRANSFERS,
  DEFAULT_MAX_WINDOW_SIZE,
  DEFAULT_OPEN_TIMEOUT_MS,
  DEFAULT_RETRANSMIT_TIMEOUT_MS,
  ErrorCode,
  MAX_BLOCK_SIZE,
  MAX_BUSY_POLL_MICROSECONDS,
  MAX_TIMEOUT_SECONDS,
  MAX_WINDOW_SIZE,
  MIN_BLOCK_SIZE,
  MIN_TIMEOUT_SECONDS,
  MIN_WINDOW_SIZE,
  TFTP_PORT,
} from './constants.ts';
import { TftpAccessDeniedError, TftpBindError, TftpConfigError } from './errors.ts';
import type { TftpFile, TftpFileHandler } from './handler.ts';
import { systemClock, udpSocketFactory } from './io.ts';
import type { Clock, Endpoint, SocketFactory, TftpSocket } from './io.ts';
import { choosePump } from './native-pump.ts';
import type { NativePump, TftpEngine } from './native-pump.ts';
import { NativeTransfer, addPumpStats } from './native-transfer.ts';
import { negotiateReadOptions } from './options.ts';
import type { Negotiated } from './options.ts';
import { Transfer, zeroCounters } from './transfer.ts';
import type { TftpCounters, TransferOutcome } from './transfer.ts';

export type TftpServerOptions = {
  readonly handler: TftpFileHandler;
  /** Address to listen on; default 0.0.0.0. */
  readonly host?: string;
  /** Default 69; 0 picks a free port (tests). */
  readonly port?: number;
  /** blksize cap (RFC 2348); default DEFAULT_MAX_BLOCK_SIZE (1468, no IP fragmentation on Ethernet). */
  readonly maxBlockSize?: number;
  /** windowsize cap (RFC 7440); default DEFAULT_MAX_WINDOW_SIZE. */
  readonly maxWindowSize?: number;
  /** Retransmission timeout when the client sends no timeout option; default 1 s. */
  readonly retransmitTimeoutMs?: number;
  /** Longest client timeout option accepted (RFC 2349); default 60 s, see DEFAULT_MAX_CLIENT_TIMEOUT_SECONDS. */
  readonly maxClientTimeoutSeconds?: number;
  /** Retransmissions before a transfer is abandoned; default 5. */
  readonly maxRetries?: number;
  /** Longest wait for the handler's open(); default 10 s. */
  readonly openTimeoutMs?: number;
  /** Concurrent transfers; further requests are dropped, and clients retry. Default 1000. */
  readonly maxTransfers?: number;
  /**
   * Who runs transfers' DATA/ACK phase: `js` (transfer.ts), `native` (the pump, native-pump.ts;
   * an error if it is not built), or `auto`, the default (see choosePump). ANVIL_TFTP_ENGINE
   * sets it when this does not. Files without a `source` are always served by the JS engine.
   */
  readonly engine?: TftpEngine;
  /** The native pump's busy-poll before it sleeps, in µs; 0 never polls. Default DEFAULT_BUSY_POLL_MICROSECONDS. */
  readonly busyPollMicroseconds?: number;
  readonly socketFactory?: SocketFactory;
  readonly clock?: Clock;
  /** Per-request and per-transfer events, for logs. Must not throw. */
  readonly onEvent?: (event: TftpServerEvent) => void;
};

export type TftpServerEvent =
  | {
      readonly type: 'transfer-start';
      readonly client: Endpoint;
      readonly path: string;
      readonly size: number | undefined;
      readonly blockSize: number;
      readonly windowSize: number;
    }
  | {
      readonly type: 'transfer-end';
      readonly client: Endpoint;
      readonly path: string;
      readonly outcome: TransferOutcome;
      readonly bytes: number;
      readonly durationMs: number;
    }
  | { readonly type: 'request-refused'; readonly client: Endpoint; readonly path: string; readonly errorCode: ErrorCode; readonly message: string }
  | { readonly type: 'malformed' | 'stray'; readonly client: Endpoint; readonly detail: string }
  | { readonly type: 'busy'; readonly client: Endpoint; readonly path: string }
  | { readonly type: 'handler-error'; readonly client: Endpoint; readonly path: string; readonly error: unknown };

/** A transfer as the server drives it, whichever engine runs it. */
type RunningTransfer = Pick<Transfer, 'abort'>;

/** A client TID's request: its bytes, to tell a retransmission from a new request, and its transfer once opened. */
type Slot = { readonly request: Buffer; transfer: RunningTransfer | undefined };

export class TftpServer {
  readonly #handler: TftpFileHandler;
  readonly #host: string;
  readonly #port: number;
  readonly #maxBlockSize: number;
  readonly #maxWindowSize: number;
  readonly #timeoutMs: number;
  readonly #maxClientTimeoutSeconds: number;
  readonly #openTimeoutMs: number;
  readonly #maxRetries: number;
  readonly #maxTransfers: number;
  readonly #busyPollMicroseconds: number;
  readonly #socketFactory: SocketFactory;
  readonly #clock: Clock;
  readonly #onEvent: (event: TftpServerEvent) => void;
  readonly #pump: NativePump | undefined;
  readonly #counters = zeroCounters();
  /** Active transfers by client "address:port" (its TID). */
  readonly #active = new Map<string, Slot>();
  /** Native transfers whose thread has not been joined yet, superseded ones included; their counters are live. */
  readonly #pumps = new Set<NativeTransfer>();
  #socket: TftpSocket | undefined;
  #bound: Endpoint | undefined;
  #closed = false;

  constructor(options: TftpServerOptions) {
    this.#handler = options.handler;
    this.#host = options.host ?? '0.0.0.0';
    this.#port = options.port ?? TFTP_PORT;
    this.#port = checkRange('port', this.#port, 0, 65535);
    this.#maxBlockSize = checkRange('maxBlockSize', options.maxBlockSize ?? DEFAULT_MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, MAX_BLOCK_SIZE);
    this.#maxWindowSize = checkRange('maxWindowSize', options.maxWindowSize ?? DEFAULT_MAX_WINDOW_SIZE, MIN_WINDOW_SIZE, MAX_WINDOW_SIZE);
    this.#timeoutMs = checkRange('retransmitTimeoutMs', options.retransmitTimeoutMs ?? DEFAULT_RETRANSMIT_TIMEOUT_MS, 1, MAX_TIMEOUT_SECONDS * 1000);
    this.#maxClientTimeoutSeconds = checkRange(
      'maxClientTimeoutSeconds',
      options.maxClientTimeoutSeconds ?? DEFAULT_MAX_CLIENT_TIMEOUT_SECONDS,
      MIN_TIMEOUT_SECONDS,
      MAX_TIMEOUT_SECONDS,
    );
    this.#openTimeoutMs = checkRange('openTimeoutMs', options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS, 1, 3_600_000);
    this.#maxRetries = checkRange('maxRetries', options.maxRetries ?? DEFAULT_MAX_RETRIES, 0, 1000);
    this.#maxTransfers = checkRange('maxTransfers', options.maxTransfers ?? DEFAULT_MAX_TRANSFERS, 1, 1_000_000);
    this.#busyPollMicroseconds = checkRange(
      'busyPollMicroseconds',
      options.busyPollMicroseconds ?? DEFAULT_BUSY_POLL_MICROSECONDS,
      0,
      MAX_BUSY_POLL_MICROSECONDS,
    );
    this.#socketFactory = options.socketFactory ?? udpSocketFactory;
    this.#clock = options.clock ?? systemClock;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#pump = choosePump(options.engine, options.socketFactory !== undefined || options.clock !== undefined);
  }

  /** Which engine runs transfers whose file has a source (see TftpServerOptions.engine). */
  get engine(): 'js' | 'native' {
    return this.#pump === undefined ? 'js' : 'native';
  }

  /** A snapshot of the counters, for metrics. */
  get counters(): Readonly<TftpCounters> {
    const counters = { ...this.#counters, activeTransfers: this.#active.size };
    for (const pump of this.#pumps) addPumpStats(counters, pump.stats);
    return counters;
  }

  /** The bound address, once listening. */
  get address(): Endpoint | undefined {
    return this.#bound;
  }

  async listen(): Promise<Endpoint> {
    const socket = this.#socketFactory(isIPv6(this.#host) ? 'udp6' : 'udp4');
    try {
      this.#bound = await socket.bind(this.#port, this.#host);
    } catch (error) {
      socket.close();
      throw bindError(error, this.#host, this.#port);
    }
    this.#socket = socket;
    socket.onMessage((message, from) => this.#onRequest(message, from));
    // A listening UDP socket's errors (e.g. ICMP noise) must not stop the service.
    socket.onError(() => {});
    return this.#bound;
  }

  /** Stops listening and aborts running transfers, telling their clients; resolves when no pump thread is left. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#socket?.close();
    this.#socket = undefined;
    for (const slot of [...this.#active.values()]) slot.transfer?.abort('server shutting down');
    await Promise.all([...this.#pumps].map((pump) => pump.ended));
  }

  #onRequest(message: Buffer, from: Endpoint): void {
    let packet: TftpPacket;
    try {
      packet = decodePacket(message);
    } catch (error) {
      this.#counters.malformedDropped++;
      this.#onEvent({ type: 'malformed', client: copy(from), detail: (error as Error).message });
      return;
    }
    if (packet.kind === 'rrq') {
      this.#startRead(packet, message, copy(from)).catch((error: unknown) => {
        this.#onEvent({ type: 'handler-error', client: copy(from), path: packet.filename, error });
      });
    } else if (packet.kind === 'wrq') {
      this.#refuse(from, packet.filename, ErrorCode.ACCESS_VIOLATION, 'anvil serves TFTP read-only: write requests are refused');
    } else {
      // DATA, ACK, ERROR or OACK on the request port (often a late packet of a finished
      // transfer): not a request, and answering an ERROR with an ERROR could loop.
      this.#counters.strayDropped++;
      this.#onEvent({ type: 'stray', client: copy(from), detail: `${packet.kind} packet on the request port` });
    }
  }

  async #startRead(request: TftpRequest, raw: Buffer, client: Endpoint): Promise<void> {
    const key = `${client.address}:${client.port}`;
    const existing = this.#active.get(key);
    if (existing !== undefined) {
      // The same RRQ again: retransmitted before our answer reached the client; the transfer retransmits instead.
      if (existing.transfer === undefined || existing.request.equals(raw)) return;
      // Another request from the same TID: the client dropped the old transfer (a PXE ROM's
      // tsize probe, then the real request) and its ERROR may still be unread on the old socket.
      existing.transfer.abort('superseded by a new request', { notifyClient: false });
    }
    if (request.mode !== 'octet') {
      this.#refuse(client, request.filename, ErrorCode.ILLEGAL_OPERATION, `mode ${request.mode} is not served; use octet (binary) mode`);
      return;
    }
    if (this.#active.size >= this.#maxTransfers) {
      this.#counters.busyDropped++;
      this.#onEvent({ type: 'busy', client, path: request.filename });
      return;
    }
    const slot: Slot = { request: raw, transfer: undefined };
    this.#active.set(key, slot);
    let file: TftpFile | undefined;
    try {
      file = await this.#open(request.filename, client);
    } catch (error) {
      this.#active.delete(key);
      if (error instanceof TftpAccessDeniedError) {
        this.#refuse(client, request.filename, ErrorCode.ACCESS_VIOLATION, 'Access violation');
      } else {
        this.#refuse(client, request.filename, ErrorCode.NOT_DEFINED, 'server error opening the file');
        this.#onEvent({ type: 'handler-error', client, path: request.filename, error });
      }
      return;
    }
    if (file === undefined) {
      this.#active.delete(key);
      this.#refuse(client, request.filename, ErrorCode.FILE_NOT_FOUND, 'File not found');
      return;
    }
    await this.#runTransfer(request, client, key, slot, file);
  }

  async #runTransfer(request: TftpRequest, client: Endpoint, key: string, slot: Slot, file: TftpFile): Promise<void> {
    const negotiated = negotiateReadOptions(request.options, file.size, {
      maxBlockSize: this.#maxBlockSize,
      maxWindowSize: this.#maxWindowSize,
      maxTimeoutSeconds: this.#maxClientTimeoutSeconds,
    });
    const started = this.#clock.now();
    const onEnd = (outcome: TransferOutcome, bytes: number) => {
      if (this.#active.get(key) === slot) this.#active.delete(key);
      if (outcome.status === 'completed') this.#counters.transfersCompleted++;
      else this.#counters.transfersFailed++;
      const durationMs = this.#clock.now() - started;
      this.#onEvent({ type: 'transfer-end', client, path: request.filename, outcome, bytes, durationMs });
    };
    const transfer = this.#startNative(client, file, negotiated, onEnd) ?? (await this.#startJs(request, client, key, file, negotiated, onEnd));
    if (transfer === undefined) return;
    slot.transfer = transfer;
    this.#counters.transfersStarted++;
    this.#onEvent({
      type: 'transfer-start',
      client,
      path: request.filename,
      size: file.size,
      blockSize: negotiated.blockSize,
      windowSize: negotiated.windowSize,
    });
  }

  #transferTimeoutMs(negotiated: Negotiated): number {
    return negotiated.timeoutSeconds !== undefined ? negotiated.timeoutSeconds * 1000 : this.#timeoutMs;
  }

  /** The transfer on the native pump, already sending; undefined for the JS engine (no pump, no source, or no socket for the pump). */
  #startNative(
    client: Endpoint,
    file: TftpFile,
    negotiated: Negotiated,
    onEnd: (outcome: TransferOutcome, bytes: number) => void,
  ): RunningTransfer | undefined {
    if (this.#pump === undefined || file.source === undefined || this.#closed) return undefined;
    const transfer = new NativeTransfer({
      pump: this.#pump,
      file,
      source: file.source,
      client,
      localAddress: this.#bound?.address ?? this.#host,
      oack: negotiated.accepted,
      blockSize: negotiated.blockSize,
      windowSize: negotiated.windowSize,
      timeoutMs: this.#transferTimeoutMs(negotiated),
      maxRetries: this.#maxRetries,
      busyPollMicroseconds: this.#busyPollMicroseconds,
      onEnd: (outcome, bytes) => {
        addPumpStats(this.#counters, transfer.stats);
        this.#pumps.delete(transfer);
        onEnd(outcome, bytes);
      },
    });
    try {
      transfer.start();
    } catch {
      return undefined; // nothing was sent: the JS engine tries with a socket of its own
    }
    this.#pumps.add(transfer);
    return transfer;
  }

  /** The transfer on the JS engine, already sending; undefined when its socket could not be had (then reported). */
  async #startJs(
    request: TftpRequest,
    client: Endpoint,
    key: string,
    file: TftpFile,
    negotiated: Negotiated,
    onEnd: (outcome: TransferOutcome, bytes: number) => void,
  ): Promise<RunningTransfer | undefined> {
    const socket = this.#socketFactory(isIPv6(client.address) ? 'udp6' : 'udp4');
    try {
      if (this.#closed) throw new Error('server closed');
      // Same local address as the listener, so a multi-homed server answers from the address asked.
      await socket.bind(0, this.#bound?.address ?? this.#host);
      await socket.connect(client.port, client.address);
    } catch (error) {
      socket.close();
      this.#active.delete(key);
      await file.close().catch(() => {});
      if (!this.#closed) this.#onEvent({ type: 'handler-error', client, path: request.filename, error });
      return undefined;
    }
    const transfer = new Transfer({
      socket,
      file,
      client,
      oack: negotiated.accepted,
      blockSize: negotiated.blockSize,
      windowSize: negotiated.windowSize,
      timeoutMs: this.#transferTimeoutMs(negotiated),
      maxRetries: this.#maxRetries,
      clock: this.#clock,
      counters: this.#counters,
      onEnd,
    });
    transfer.start();
    return transfer;
  }

  /** The handler's open(), bounded by openTimeoutMs; a file that arrives too late is closed. */
  #open(path: string, client: Endpoint): Promise<TftpFile | undefined> {
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const timer = this.#clock.setTimeout(() => {
        timedOut = true;
        reject(new Error(`the file handler took more than ${this.#openTimeoutMs} ms to open ${JSON.stringify(path)}`));
      }, this.#openTimeoutMs);
      this.#handler.open(path, client).then(
        (file) => {
          this.#clock.clearTimeout(timer);
          if (timedOut) file?.close().catch(() => {});
          else resolve(file);
        },
        (error: unknown) => {
          this.#clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** Answers a request with an ERROR from the request port; no transfer socket is spent on a refusal. */
  #refuse(client: Endpoint, path: string, errorCode: ErrorCode, message: string): void {
    this.#socket?.send(encodeError(errorCode, message), client);
    this.#counters.requestsRefused++;
    this.#counters.errorsSent++;
    this.#onEvent({ type: 'request-refused', client: copy(client), path, errorCode, message });
  }
}

function checkRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TftpConfigError(`TFTP server option ${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
  return value;
}

function copy(endpoint: Endpoint): Endpoint {
  return { address: endpoint.address, port: endpoint.port };
}

function bindError(error: unknown, host: string, port: number): TftpBindError {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  if (code === 'EACCES' || code === 'EPERM') {
    return new TftpBindError(
      'TFTP_BIND_DENIED',
      `cannot listen for TFTP on UDP ${where}: ports below 1024 need privilege. Run anvil as root, ` +
        `or grant node the capability (sudo setcap cap_net_bind_service=+ep ${process.execPath}), ` +
        `or listen on an unprivileged port (--tftp 0.0.0.0:6969) and redirect 69 to it, since PXE firmware always asks port 69`,
      { cause: error },
    );
  }
  if (code === 'EADDRINUSE') {
    return new TftpBindError(
      'TFTP_ADDRESS_IN_USE',
      `cannot listen for TFTP on UDP ${where}: another server (tftpd-hpa, dnsmasq --enable-tftp?) already uses it; stop it or choose another --tftp address`,
      { cause: error },
    );
  }
  return new TftpBindError('TFTP_BIND_FAILED', `cannot listen for TFTP on UDP ${where}: ${(error as Error).message}`, { cause: error });
}
