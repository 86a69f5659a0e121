// One read transfer run by the native pump (native-pump.ts): the job of Transfer
// (transfer.ts), with the same outcomes and counters, while the server keeps the request,
// the file handler, the negotiation and the slot. The pump owns the transfer's socket from
// its first packet, so the OACK or DATA 1 already comes from the transfer's TID.
import { encodeOack } from './codec.ts';
import type { TftpOption } from './codec.ts';
import type { TftpFile, TftpFileSource } from './handler.ts';
import { DEFAULT_SOCKET_BUFFER_BYTES } from './io.ts';
import type { Endpoint } from './io.ts';
import { PUMP_STAT_COUNT, PumpOutcome, PumpStat } from './native-pump.ts';
import type { NativePump, PumpHandle } from './native-pump.ts';
import type { TftpCounters, TransferOutcome } from './transfer.ts';

export type NativeTransferParams = {
  readonly pump: NativePump;
  readonly file: TftpFile;
  readonly source: TftpFileSource;
  readonly client: Endpoint;
  readonly localAddress: string;
  readonly oack: readonly TftpOption[];
  readonly blockSize: number;
  readonly windowSize: number;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly busyPollMicroseconds: number;
  /** Called once, after the pump's thread is joined; `bytes` counts payload sent, retransmissions included. */
  readonly onEnd: (outcome: TransferOutcome, bytes: number) => void;
};

export class NativeTransfer {
  /** The pump's live counters (PumpStat slots), written by its thread; see addPumpStats. */
  readonly stats = new Float64Array(new ArrayBuffer(Float64Array.BYTES_PER_ELEMENT * PUMP_STAT_COUNT));
  readonly #p: NativeTransferParams;
  readonly #ended = Promise.withResolvers<void>();
  #handle: PumpHandle | undefined;
  #abortMessage = '';
  #done = false;

  constructor(params: NativeTransferParams) {
    this.#p = params;
  }

  /** Settles once the pump's thread is joined, its socket closed and the file released. */
  get ended(): Promise<void> {
    return this.#ended.promise;
  }

  /** Starts the pump; throws, having sent nothing, when it cannot (the caller may use the JS engine instead). */
  start(): void {
    const { pump, source, client, oack } = this.#p;
    this.#handle = pump.start({
      clientAddress: client.address,
      clientPort: client.port,
      localAddress: this.#p.localAddress,
      firstPacket: oack.length > 0 ? encodeOack(oack) : undefined,
      ...('fd' in source ? { fd: source.fd } : { content: source.content }),
      blockSize: this.#p.blockSize,
      windowSize: this.#p.windowSize,
      timeoutMs: this.#p.timeoutMs,
      maxRetries: this.#p.maxRetries,
      busyPollMicroseconds: this.#p.busyPollMicroseconds,
      socketBufferBytes: DEFAULT_SOCKET_BUFFER_BYTES,
      stats: this.stats,
      onDone: (outcome, clientCode, clientMessage, errorText) => this.#onDone(outcome, clientCode, clientMessage, errorText),
    });
  }

  /** As Transfer.abort; the end is reported when the pump's thread has stopped. */
  abort(message: string, { notifyClient = true }: { readonly notifyClient?: boolean } = {}): void {
    if (this.#handle === undefined || this.#done || this.#abortMessage !== '') return;
    this.#abortMessage = message;
    this.#p.pump.cancel(this.#handle, notifyClient ? message : undefined);
  }

  #onDone(outcome: number, clientCode: number, clientMessage: string, errorText: string): void {
    this.#done = true;
    // Only now: the pump's thread may pread the file descriptor until it is joined.
    this.#p.file.close().catch(() => {});
    try {
      this.#p.onEnd(this.#outcome(outcome, clientCode, clientMessage, errorText), this.stats[PumpStat.bytesSent]!);
    } finally {
      this.#ended.resolve();
    }
  }

  #outcome(outcome: number, clientCode: number, clientMessage: string, errorText: string): TransferOutcome {
    switch (outcome) {
      case PumpOutcome.COMPLETED:
        return { status: 'completed' };
      case PumpOutcome.TIMEOUT:
        return { status: 'failed', reason: 'timeout', detail: `no ACK after ${this.#p.maxRetries} retransmissions` };
      case PumpOutcome.CLIENT_ERROR:
        return { status: 'failed', reason: 'client-error', detail: `client sent error ${clientCode}: ${clientMessage}` };
      case PumpOutcome.READ_ERROR:
        return { status: 'failed', reason: 'read-error', detail: errorText };
      case PumpOutcome.SOCKET_ERROR:
        return { status: 'failed', reason: 'socket-error', detail: errorText };
      case PumpOutcome.ABORTED:
        return { status: 'failed', reason: 'aborted', detail: this.#abortMessage };
      default:
        return { status: 'failed', reason: 'superseded', detail: this.#abortMessage };
    }
  }
}

/** Adds a pump's counters to the server's (live while it runs, once more for good when it ends). */
export function addPumpStats(counters: TftpCounters, stats: Float64Array): void {
  for (const [name, slot] of Object.entries(PumpStat) as [keyof typeof PumpStat, number][]) counters[name] += stats[slot]!;
}
