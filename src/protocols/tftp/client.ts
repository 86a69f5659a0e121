// A small TFTP read client (RFC 1350, options RFC 2347/2348/2349, windowsize RFC 7440),
// for tests, benchmarks and lab tooling that fetch from anvil or any TFTP server.
import { isIPv6 } from 'node:net';
import { decodePacket, encodeAck, encodeError, encodeRequest } from './codec.ts';
import type { TftpData, TftpOack, TftpOption } from './codec.ts';
import { DEFAULT_BLOCK_SIZE, DEFAULT_MAX_RETRIES, DEFAULT_RETRANSMIT_TIMEOUT_MS, ErrorCode, TFTP_PORT } from './constants.ts';
import { TftpRemoteError, TftpTimeoutError } from './errors.ts';
import { systemClock, udpSocketFactory } from './io.ts';
import type { Clock, Endpoint, SocketFactory, TftpSocket } from './io.ts';

export type TftpGetOptions = {
  readonly host: string;
  readonly port?: number;
  readonly filename: string;
  /** Asks for blksize (RFC 2348); the server may answer smaller. */
  readonly blockSize?: number;
  /** Asks for windowsize (RFC 7440). */
  readonly windowSize?: number;
  /** Asks for tsize (RFC 2349). */
  readonly tsize?: boolean;
  readonly timeoutMs?: number;
  readonly maxRetries?: number;
  /** Each block's payload in order; the buffer is only valid during the call. Without it, nothing is kept. */
  readonly onData?: (payload: Buffer) => void;
  readonly socketFactory?: SocketFactory;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
};

export type TftpGetResult = {
  readonly bytes: number;
  /** The server's OACK, or empty when it sent DATA directly. */
  readonly oack: readonly TftpOption[];
  readonly blockSize: number;
  readonly windowSize: number;
  /** ACKs re-sent after a timeout or a gap. */
  readonly retransmissions: number;
};

/** Fetches one file; rejects with TftpRemoteError on an ERROR packet, TftpTimeoutError when the server goes quiet. */
export function tftpGet(options: TftpGetOptions): Promise<TftpGetResult> {
  const socket = (options.socketFactory ?? udpSocketFactory)(isIPv6(options.host) ? 'udp6' : 'udp4');
  const requested: TftpOption[] = [];
  if (options.blockSize !== undefined) requested.push(['blksize', String(options.blockSize)]);
  if (options.windowSize !== undefined) requested.push(['windowsize', String(options.windowSize)]);
  if (options.tsize === true) requested.push(['tsize', '0']);
  const request = encodeRequest({ kind: 'rrq', filename: options.filename, mode: 'octet', options: requested });
  return new Promise<TftpGetResult>((resolve, reject) => new Download(options, socket, request, resolve, reject).start());
}

/** One read transfer, from the RRQ to the last block: its state, and one method per kind of event. */
class Download {
  readonly #options: TftpGetOptions;
  readonly #socket: TftpSocket;
  readonly #request: Buffer;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #serverPort: number;
  readonly #resolve: (result: TftpGetResult) => void;
  readonly #reject: (error: Error) => void;
  /** The server's TID, fixed by its first answer. */
  #server: Endpoint | undefined;
  #blockSize = DEFAULT_BLOCK_SIZE;
  #windowSize = 1;
  #oack: readonly TftpOption[] = [];
  /** Absolute number of the last in-order block. */
  #received = 0;
  #inWindow = 0;
  #bytes = 0;
  #retries = 0;
  #retransmissions = 0;
  #gapAcked = false;
  #lastSent: Buffer;
  #timer: unknown;
  #deadline = 0;
  #done = false;

  constructor(options: TftpGetOptions, socket: TftpSocket, request: Buffer, resolve: (result: TftpGetResult) => void, reject: (error: Error) => void) {
    this.#options = options;
    this.#socket = socket;
    this.#request = request;
    this.#lastSent = request;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_RETRANSMIT_TIMEOUT_MS;
    this.#maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.#serverPort = options.port ?? TFTP_PORT;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  start(): void {
    const signal = this.#options.signal;
    this.#socket.onError((error) => this.#finish(error));
    this.#socket.onMessage((message, from) => this.#onMessage(message, from));
    if (signal?.aborted) {
      this.#finish(new Error('TFTP transfer cancelled', { cause: signal.reason }));
      return;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#socket
      .bind(0, isIPv6(this.#options.host) ? '::' : '0.0.0.0')
      .then(() => {
        this.#send(this.#request);
        this.#arm();
      })
      .catch((error: unknown) => this.#finish(error as Error));
  }

  #finish(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#socket.close();
    if (error !== undefined) this.#reject(error);
    else
      this.#resolve({ bytes: this.#bytes, oack: this.#oack, blockSize: this.#blockSize, windowSize: this.#windowSize, retransmissions: this.#retransmissions });
  }

  readonly #onAbort = (): void => {
    if (this.#server !== undefined) this.#socket.send(encodeError(ErrorCode.NOT_DEFINED, 'cancelled'), this.#server);
    this.#finish(new Error('TFTP transfer cancelled', { cause: this.#options.signal?.reason }));
  };

  #send(packet: Buffer): void {
    this.#lastSent = packet;
    this.#socket.send(packet, this.#server ?? { address: this.#options.host, port: this.#serverPort });
  }

  /** One lazily moved timer: a packet only pushes the deadline, so the per-block path sets no timer. */
  #arm(): void {
    this.#deadline = this.#clock.now() + this.#timeoutMs;
    this.#timer ??= this.#clock.setTimeout(this.#onTimeout, this.#timeoutMs);
  }

  readonly #onTimeout = (): void => {
    this.#timer = undefined;
    if (this.#done) return;
    const remaining = this.#deadline - this.#clock.now();
    if (remaining > 0) {
      this.#timer = this.#clock.setTimeout(this.#onTimeout, remaining);
      return;
    }
    if (this.#retries >= this.#maxRetries) {
      const { host, filename } = this.#options;
      this.#finish(new TftpTimeoutError(`no answer from ${host}:${this.#serverPort} for ${filename} after ${this.#maxRetries} retries`));
      return;
    }
    this.#retries++;
    this.#retransmissions++;
    this.#inWindow = 0;
    this.#send(this.#lastSent);
    this.#arm();
  };

  #onMessage(message: Buffer, from: Endpoint): void {
    if (this.#done) return;
    if (this.#server === undefined) this.#server = { address: from.address, port: from.port };
    else if (from.port !== this.#server.port || from.address !== this.#server.address) {
      // RFC 1350 §4: a packet from another TID gets error 5 and does not disturb the transfer.
      this.#socket.send(encodeError(ErrorCode.UNKNOWN_TID, 'Unknown transfer ID'), from);
      return;
    }
    let packet;
    try {
      packet = decodePacket(message);
    } catch {
      return;
    }
    if (packet.kind === 'error') this.#finish(new TftpRemoteError(packet.code, packet.message));
    else if (packet.kind === 'oack' && this.#received === 0) this.#onOack(packet);
    else if (packet.kind === 'data') this.#onData(packet);
  }

  /** The server accepted options (RFC 2347): take its blksize and windowsize, ACK block 0. */
  #onOack(packet: TftpOack): void {
    this.#oack = packet.options;
    for (const [name, value] of packet.options) {
      if (name.toLowerCase() === 'blksize') this.#blockSize = Number(value);
      if (name.toLowerCase() === 'windowsize') this.#windowSize = Number(value);
    }
    this.#retries = 0;
    this.#send(encodeAck(0));
    this.#arm();
  }

  #onData(packet: TftpData): void {
    if (packet.block === ((this.#received + 1) & 0xffff)) {
      this.#received++;
      this.#retries = 0;
      this.#gapAcked = false;
      this.#bytes += packet.data.length;
      this.#options.onData?.(packet.data);
      this.#inWindow++;
      const last = packet.data.length < this.#blockSize;
      if (last || this.#inWindow >= this.#windowSize) {
        this.#inWindow = 0;
        this.#send(encodeAck(this.#received));
      }
      if (last) this.#finish();
      else this.#arm();
    } else if (!this.#gapAcked) {
      // RFC 7440 §4: out of order (a block lost, or a window resent): ACK the last in-order block once.
      this.#gapAcked = true;
      this.#inWindow = 0;
      this.#retransmissions++;
      this.#send(encodeAck(this.#received));
      this.#arm();
    }
  }
}
