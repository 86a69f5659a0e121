// One read transfer on its own socket (its TID, RFC 1350 §4): OACK (RFC 2347), then
// DATA windows (RFC 7440; windowsize 1 is plain RFC 1350 lock-step), retransmission on
// timeout, and an end: the final block acknowledged, the client's ERROR, or retries spent.
import { decodePacket, encodeError, encodeOack } from './codec.ts';
import type { TftpOption } from './codec.ts';
import { ErrorCode } from './constants.ts';
import { BlockReader } from './block-reader.ts';
import type { TftpFile } from './handler.ts';
import type { Clock, Endpoint, TftpSocket } from './io.ts';

/** Counters shared by a server and its transfers; exposed for metrics. */
export type TftpCounters = {
  transfersStarted: number;
  transfersCompleted: number;
  transfersFailed: number;
  activeTransfers: number;
  /** Payload bytes in DATA packets, retransmissions included. */
  bytesSent: number;
  dataPacketsSent: number;
  retransmissions: number;
  /** ACKs for blocks already acknowledged: ignored, never answered with data (Sorcerer's Apprentice, RFC 1123 §4.2.3.1). */
  duplicateAcks: number;
  /** Requests answered with an ERROR packet (write, not found, access, mode). */
  requestsRefused: number;
  errorsSent: number;
  /** Datagrams that are not TFTP (typed decode errors), dropped. */
  malformedDropped: number;
  /** Well-formed packets with no place where they arrived (an ACK on the request port, DATA on a read transfer), dropped. */
  strayDropped: number;
  /** Requests dropped because maxTransfers were running. */
  busyDropped: number;
};

export function zeroCounters(): TftpCounters {
  return {
    transfersStarted: 0,
    transfersCompleted: 0,
    transfersFailed: 0,
    activeTransfers: 0,
    bytesSent: 0,
    dataPacketsSent: 0,
    retransmissions: 0,
    duplicateAcks: 0,
    requestsRefused: 0,
    errorsSent: 0,
    malformedDropped: 0,
    strayDropped: 0,
    busyDropped: 0,
  };
}

export type TransferOutcome =
  | { readonly status: 'completed' }
  | {
      readonly status: 'failed';
      readonly reason: 'timeout' | 'client-error' | 'read-error' | 'socket-error' | 'aborted' | 'superseded';
      readonly detail: string;
    };

export type TransferParams = {
  readonly socket: TftpSocket;
  readonly file: TftpFile;
  readonly client: Endpoint;
  readonly oack: readonly TftpOption[];
  readonly blockSize: number;
  readonly windowSize: number;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly clock: Clock;
  readonly counters: TftpCounters;
  readonly onEnd: (outcome: TransferOutcome, bytes: number) => void;
};

/** 'negotiating': OACK sent, awaiting ACK 0. 'sending': DATA windows. 'ended': socket and file closed. */
type TransferState = 'negotiating' | 'sending' | 'ended';

export class Transfer {
  readonly #p: TransferParams;
  readonly #reader: BlockReader;
  #state: TransferState;
  /** Highest block acknowledged and highest sent, as absolute numbers (the wire's 16 bits wrap, these do not). */
  #acked = 0;
  #sent = 0;
  #loading = false;
  #retries = 0;
  #deadline = 0;
  #timer: unknown;
  #payloadBytes = 0;

  constructor(params: TransferParams) {
    this.#p = params;
    this.#reader = new BlockReader(params.file, params.blockSize, params.windowSize);
    this.#state = params.oack.length > 0 ? 'negotiating' : 'sending';
    params.socket.onMessage((message) => this.#onMessage(message));
    params.socket.onError((error) => this.#end({ status: 'failed', reason: 'socket-error', detail: error.message }));
  }

  start(): void {
    if (this.#state === 'negotiating') this.#sendOack();
    else this.#pump();
  }

  /** Stops the transfer: on server shutdown telling the client why; silently when a new request from the client replaces it. */
  abort(message: string, { notifyClient = true }: { readonly notifyClient?: boolean } = {}): void {
    if (this.#state === 'ended') return;
    if (notifyClient) this.#sendError(ErrorCode.NOT_DEFINED, message);
    this.#end({ status: 'failed', reason: notifyClient ? 'aborted' : 'superseded', detail: message });
  }

  #onMessage(message: Buffer): void {
    if (this.#state === 'ended') return;
    // Hot path: an ACK is 4 bytes, read in place without building a packet object.
    if (message.length >= 4 && message[0] === 0 && message[1] === 4) {
      this.#onAck(message.readUInt16BE(2));
      return;
    }
    let packet;
    try {
      packet = decodePacket(message);
    } catch {
      this.#p.counters.malformedDropped++;
      return;
    }
    if (packet.kind === 'error') {
      // The client gave up (or refused our options, error 8): RFC 1350 says no reply to an ERROR.
      this.#end({ status: 'failed', reason: 'client-error', detail: `client sent error ${packet.code}: ${packet.message}` });
      return;
    }
    this.#p.counters.strayDropped++; // DATA or a request has no place on a read transfer's TID
  }

  #onAck(block: number): void {
    if (this.#state === 'negotiating') {
      if (block !== 0) return;
      this.#state = 'sending';
      this.#retries = 0;
      this.#pump();
      return;
    }
    const distance = (block - this.#acked) & 0xffff;
    if (distance === 0 || distance > this.#sent - this.#acked) {
      // Already acknowledged (or never sent): answering it would double the traffic for the
      // rest of the transfer — the Sorcerer's Apprentice bug. Only a timeout retransmits.
      this.#p.counters.duplicateAcks++;
      return;
    }
    this.#acked += distance;
    this.#retries = 0;
    if (this.#acked === this.#reader.lastBlock) {
      this.#end({ status: 'completed' });
      return;
    }
    // RFC 7440 §4: an ACK inside the window means the blocks after it were lost; resend from there.
    this.#sent = this.#acked;
    this.#pump();
  }

  /** Sends blocks up to the end of the window, loading chunks from the file as needed. */
  #pump(): void {
    if (this.#state !== 'sending' || this.#loading) return;
    const { socket, windowSize, counters } = this.#p;
    const limit = this.#acked + windowSize;
    while (this.#sent < limit) {
      const n = this.#sent + 1;
      const last = this.#reader.lastBlock;
      if (last !== undefined && n > last) break;
      const packet = this.#reader.packet(n);
      if (packet === undefined) {
        this.#loadThenPump(n);
        break;
      }
      socket.send(packet);
      this.#sent = n;
      const payload = packet.length - 4;
      counters.dataPacketsSent++;
      counters.bytesSent += payload;
      this.#payloadBytes += payload;
    }
    this.#armTimer();
  }

  #loadThenPump(n: number): void {
    this.#loading = true;
    this.#reader.load(n).then(
      () => {
        this.#loading = false;
        this.#pump();
      },
      (error: unknown) => {
        this.#loading = false;
        if (this.#state === 'ended') return;
        this.#sendError(ErrorCode.NOT_DEFINED, 'read error on the server');
        this.#end({ status: 'failed', reason: 'read-error', detail: error instanceof Error ? error.message : String(error) });
      },
    );
  }

  #sendOack(): void {
    this.#p.socket.send(encodeOack(this.#p.oack));
    this.#armTimer();
  }

  #sendError(code: ErrorCode, message: string): void {
    this.#p.socket.send(encodeError(code, message));
    this.#p.counters.errorsSent++;
  }

  /** One timer per transfer, moved lazily: a send only pushes the deadline, it never touches the timer. */
  #armTimer(): void {
    const { clock, timeoutMs } = this.#p;
    this.#deadline = clock.now() + timeoutMs;
    this.#timer ??= clock.setTimeout(() => this.#onTimer(), timeoutMs);
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.#state === 'ended') return;
    const { clock, maxRetries, counters } = this.#p;
    const remaining = this.#deadline - clock.now();
    if (remaining > 0) {
      this.#timer = clock.setTimeout(() => this.#onTimer(), remaining);
      return;
    }
    if (this.#retries >= maxRetries) {
      // The client has vanished: give up cleanly (RFC 1350 §2: "timeout ... terminates").
      this.#sendError(ErrorCode.NOT_DEFINED, 'transfer timed out');
      this.#end({ status: 'failed', reason: 'timeout', detail: `no ACK after ${maxRetries} retransmissions` });
      return;
    }
    this.#retries++;
    counters.retransmissions++;
    if (this.#state === 'negotiating') {
      this.#sendOack();
    } else {
      this.#sent = this.#acked;
      this.#pump();
    }
  }

  #end(outcome: TransferOutcome): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    if (this.#timer !== undefined) this.#p.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#p.socket.close();
    this.#p.file.close().catch(() => {});
    this.#p.onEnd(outcome, this.#payloadBytes);
  }
}
