// anvil's read-only TFTP server (RFC 1350; options RFC 2347/2348/2349/7440). The listening
// socket only takes requests; each transfer runs on its own ephemeral socket (its TID),
// driven by the JS engine (transfer.ts) or the native pump (native-transfer.ts).
// Files come from a TftpFileHandler: the server knows nothing of machines. Its options,
// their checks and its bind errors are server-config.ts's.
import { isIPv6 } from 'node:net';
import { decodePacket, encodeError, toNetascii } from './codec.ts';
import type { TftpPacket, TftpRequest } from './codec.ts';
import { ErrorCode, MAX_FILENAME_BYTES, NETASCII_MAX_BYTES } from './constants.ts';
import { TftpAccessDeniedError } from './errors.ts';
import { bufferFile } from './handler.ts';
import type { TftpFile, TftpFileHandler } from './handler.ts';
import { systemClock, udpSocketFactory } from './io.ts';
import type { Clock, Endpoint, SocketFactory, TftpSocket } from './io.ts';
import { bindError, checkedConfig } from './server-config.ts';
import type { TftpServerConfig, TftpServerEvent, TftpServerOptions } from './server-config.ts';
import { choosePump } from './native-pump.ts';
import type { NativePump } from './native-pump.ts';
import { NativeTransfer, addPumpStats } from './native-transfer.ts';
import { negotiateReadOptions } from './options.ts';
import type { Negotiated } from './options.ts';
import { Transfer, zeroCounters } from './transfer.ts';
import type { TftpCounters, TransferOutcome } from './transfer.ts';

// The options and events are the server's API: re-exported for one import.
export type { TftpServerEvent, TftpServerOptions } from './server-config.ts';

/** A transfer as the server drives it, whichever engine runs it. */
type RunningTransfer = Pick<Transfer, 'abort'>;

/** A client TID's request: its bytes, to tell a retransmission from a new request, and its transfer once opened. */
type Slot = { readonly request: Buffer; transfer: RunningTransfer | undefined };

export class TftpServer {
  readonly #handler: TftpFileHandler;
  readonly #config: TftpServerConfig;
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
    this.#config = checkedConfig(options);
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
    const socket = this.#socketFactory(isIPv6(this.#config.host) ? 'udp6' : 'udp4');
    try {
      this.#bound = await socket.bind(this.#config.port, this.#config.host);
    } catch (error) {
      socket.close();
      throw bindError(error, this.#config.host, this.#config.port);
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
    if (Buffer.byteLength(request.filename) > MAX_FILENAME_BYTES) {
      this.#refuse(client, request.filename, ErrorCode.FILE_NOT_FOUND, `File not found (names over ${MAX_FILENAME_BYTES} bytes are not served)`);
      return;
    }
    if (request.mode === 'mail') {
      this.#refuse(client, request.filename, ErrorCode.ILLEGAL_OPERATION, 'mode mail is not served; use octet (binary) or netascii mode');
      return;
    }
    if (this.#active.size >= this.#config.maxTransfers) {
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
    if (request.mode === 'netascii') {
      const text = await this.#netascii(file);
      if (text === undefined) {
        this.#active.delete(key);
        this.#refuse(
          client,
          request.filename,
          ErrorCode.ILLEGAL_OPERATION,
          `netascii transfers are for text files of at most ${NETASCII_MAX_BYTES} bytes; use octet (binary) mode`,
        );
        return;
      }
      file = text;
    }
    await this.#runTransfer(request, client, key, slot, file);
  }

  /** The file converted to netascii in memory, or undefined when it is too large for that (closed either way). */
  async #netascii(file: TftpFile): Promise<TftpFile | undefined> {
    try {
      if (file.size === undefined || file.size > NETASCII_MAX_BYTES) return undefined;
      const content = Buffer.allocUnsafe(file.size);
      let got = 0;
      while (got < file.size) {
        const n = await file.read(content.subarray(got), got);
        if (n === 0) break;
        got += n;
      }
      return bufferFile(toNetascii(content.subarray(0, got)));
    } finally {
      await file.close();
    }
  }

  async #runTransfer(request: TftpRequest, client: Endpoint, key: string, slot: Slot, file: TftpFile): Promise<void> {
    const negotiated = negotiateReadOptions(request.options, file.size, {
      maxBlockSize: this.#config.maxBlockSize,
      maxWindowSize: this.#config.maxWindowSize,
      maxTimeoutSeconds: this.#config.maxClientTimeoutSeconds,
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
    return negotiated.timeoutSeconds !== undefined ? negotiated.timeoutSeconds * 1000 : this.#config.timeoutMs;
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
      localAddress: this.#bound?.address ?? this.#config.host,
      oack: negotiated.accepted,
      blockSize: negotiated.blockSize,
      windowSize: negotiated.windowSize,
      timeoutMs: this.#transferTimeoutMs(negotiated),
      maxRetries: this.#config.maxRetries,
      busyPollMicroseconds: this.#config.busyPollMicroseconds,
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
      await socket.bind(0, this.#bound?.address ?? this.#config.host);
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
      maxRetries: this.#config.maxRetries,
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
        reject(new Error(`the file handler took more than ${this.#config.openTimeoutMs} ms to open ${JSON.stringify(path)}`));
      }, this.#config.openTimeoutMs);
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

function copy(endpoint: Endpoint): Endpoint {
  return { address: endpoint.address, port: endpoint.port };
}
