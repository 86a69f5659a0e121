// Serial-over-LAN console over an active RMCP+ session (IPMI v2.0 §15 SOL, §24 payloads):
// activation, acknowledged character streams in both directions, break, and noticing when
// the BMC deactivates the payload or another client takes it over.
import { EventEmitter } from 'node:events';
import { AppCmd, ActivatePayloadCode, ConfidentialityAlgorithm, IntegrityAlgorithm, NetFn, PayloadType } from '../constants.ts';
import { decodeSol, encodeSol, nextSolSequence, SolOperation, SolStatus } from '../sol.ts';
import { decodePayloadActivated, encodePayloadActivation, SolActivationAux } from '../session-commands.ts';
import { request } from '../commands/request.ts';
import { IpmiCommandError, IpmiSessionError } from './errors.ts';
import type { Bmc } from './bmc.ts';

/** Wait for a SOL packet's acknowledgement before resending it (ipmitool: 1 s; pyghmi 0.5–1 s). */
export const SOL_RETRY_MS = 500;
/** Resends of an unacknowledged SOL packet before the console gives up. */
export const SOL_RETRIES = 7;
/** How often to ask who owns the payload, to notice a takeover (ipmitool sends a keepalive every 15 s). */
export const SOL_OWNER_CHECK_MS = 5000;
/** Characters per packet when the BMC reports a nonsense maximum (pyghmi's fakebmc says 1). */
const MIN_USEFUL_PAYLOAD = 16;
const DEFAULT_PAYLOAD = 200;
const SOL_INSTANCE = 1;
const ACTIVATE_PAYLOAD = AppCmd.ACTIVATE_PAYLOAD;
const DEACTIVATE_PAYLOAD = AppCmd.DEACTIVATE_PAYLOAD;
const GET_PAYLOAD_INSTANCE_INFO = AppCmd.GET_PAYLOAD_INSTANCE_INFO;

/** The SOL payload is busy: another session holds it (Activate Payload 0x80, §24.1). */
export class IpmiSolBusyError extends IpmiSessionError {
  override readonly name: string = 'IpmiSolBusyError';
  override readonly code: string = 'IPMI_SOL_BUSY';
}

export interface SolEvents {
  data: [Buffer];
  /** The BMC ended SOL, or another client took it over; the console is closed. */
  deactivated: [string];
  error: [Error];
}

export class SolConsole extends EventEmitter<SolEvents> {
  readonly #bmc: Bmc;
  readonly #maxChunk: number;
  #closed = false;
  #sequence = 0;
  #lastInbound = -1;
  #queue: Buffer[] = [];
  #inflight: { packet: Buffer; sequence: number; tries: number; timer: NodeJS.Timeout } | undefined;
  #ownerTimer: NodeJS.Timeout | undefined;

  private constructor(bmc: Bmc, maxChunk: number) {
    super();
    this.#bmc = bmc;
    this.#maxChunk = maxChunk;
  }

  /** Activates SOL instance 1 (§24.1) in the BMC's session; with `force`, first deactivates another holder. */
  static async activate(bmc: Bmc, options: { force?: boolean; ownerCheckMs?: number } = {}): Promise<SolConsole> {
    const session = bmc.session;
    await session.open();
    const wire = session.wire;
    if (wire?.version !== '2.0') throw new IpmiSessionError(bmc.host, 'SOL needs an IPMI 2.0 (lanplus) session');
    const aux =
      (wire.suite.confidentiality !== ConfidentialityAlgorithm.NONE ? SolActivationAux.ENCRYPT : 0) |
      (wire.suite.integrity !== IntegrityAlgorithm.NONE ? SolActivationAux.AUTHENTICATE : 0) |
      SolActivationAux.SERIAL_ALERTS_DEFERRED;
    const activation = () =>
      request(
        'Activate Payload (SOL)',
        NetFn.APP,
        ACTIVATE_PAYLOAD,
        encodePayloadActivation({ payloadType: PayloadType.SOL, instance: SOL_INSTANCE, aux: Buffer.from([aux, 0, 0, 0]) }),
        false,
      );
    let res = await session.requestRaw(activation());
    if (res.completionCode === ActivatePayloadCode.ALREADY_ACTIVE && options.force) {
      await deactivateSol(bmc);
      res = await session.requestRaw(activation());
    }
    if (res.completionCode === ActivatePayloadCode.ALREADY_ACTIVE)
      throw new IpmiSolBusyError(bmc.host, 'SOL is already active in another session; `anvil ipmi sol deactivate` ends it');
    if (res.completionCode === ActivatePayloadCode.DISABLED) throw new IpmiSessionError(bmc.host, 'SOL is disabled on this BMC (Activate Payload 0x81)');
    if (res.completionCode !== 0) throw new IpmiCommandError(bmc.host, 'Activate Payload (SOL)', NetFn.APP, ACTIVATE_PAYLOAD, res.completionCode);
    const activated = decodePayloadActivated(res.data);
    const inbound = activated.inboundPayloadSize;
    const console = new SolConsole(bmc, inbound >= MIN_USEFUL_PAYLOAD ? Math.min(inbound - 4, 255) : DEFAULT_PAYLOAD);
    session.onPayload(PayloadType.SOL, (payload) => console.#receive(payload));
    // An open console keeps the process alive, as a socket with a reader would.
    session.transport.hold();
    console.#ownerTimer = setInterval(() => void console.#checkOwner(), options.ownerCheckMs ?? SOL_OWNER_CHECK_MS);
    console.#ownerTimer.unref();
    return console;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues characters for the serial port; sent one acknowledged packet at a time. */
  write(data: Uint8Array | string): void {
    if (this.#closed) return;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    for (let i = 0; i < bytes.length; i += this.#maxChunk) this.#queue.push(bytes.subarray(i, i + this.#maxChunk));
    this.#pump();
  }

  /** Sends a serial break (§15.9 operation bit 4). */
  sendBreak(): void {
    this.#queue.push(Buffer.alloc(0));
    this.#breakPending = true;
    this.#pump();
  }
  #breakPending = false;

  #pump(): void {
    if (this.#inflight || this.#closed) return;
    const data = this.#queue.shift();
    if (data === undefined) return;
    this.#sequence = nextSolSequence(this.#sequence);
    const flags = data.length === 0 && this.#breakPending ? SolOperation.GENERATE_BREAK : 0;
    if (flags) this.#breakPending = false;
    const packet = encodeSol({ sequence: this.#sequence, ackSequence: 0, acceptedCount: 0, flags, data });
    this.#inflight = { packet, sequence: this.#sequence, tries: 0, timer: setTimeout(() => this.#resend(), SOL_RETRY_MS) };
    void this.#send(packet);
  }

  #resend(): void {
    const f = this.#inflight;
    if (!f || this.#closed) return;
    if (++f.tries > SOL_RETRIES) {
      this.#finish(`the BMC stopped acknowledging SOL data after ${SOL_RETRIES} resends`);
      return;
    }
    f.timer = setTimeout(() => this.#resend(), SOL_RETRY_MS);
    void this.#send(f.packet);
  }

  async #send(packet: Buffer): Promise<void> {
    try {
      await this.#bmc.session.sendPayload(PayloadType.SOL, packet);
    } catch (error) {
      this.emit('error', error as Error);
    }
  }

  #receive(payload: Buffer): void {
    let p;
    try {
      p = decodeSol(payload);
    } catch {
      return;
    }
    // Acknowledgement of our packet (a NACK asks for the same packet again later).
    const f = this.#inflight;
    if (f && p.ackSequence === f.sequence) {
      clearTimeout(f.timer);
      if (p.flags & SolStatus.NACK) {
        f.timer = setTimeout(() => this.#resend(), SOL_RETRY_MS);
      } else {
        this.#inflight = undefined;
        this.#pump();
      }
    }
    if (p.sequence !== 0) {
      // Acknowledge every data packet; a repeat (our ack was lost) is acknowledged, not shown twice.
      void this.#send(encodeSol({ sequence: 0, ackSequence: p.sequence, acceptedCount: p.data.length, flags: 0, data: Buffer.alloc(0) }));
      if (p.sequence !== this.#lastInbound) {
        this.#lastInbound = p.sequence;
        if (p.data.length > 0) this.emit('data', p.data);
      }
    }
    if (p.flags & SolStatus.DEACTIVATED) this.#finish('the BMC deactivated SOL (another client may have taken it over)');
  }

  /** Get Payload Instance Info (§24.5): the owning session ID; another one means we were taken over. */
  async #checkOwner(): Promise<void> {
    if (this.#closed || this.#inflight) return;
    const wire = this.#bmc.session.wire;
    if (wire?.version !== '2.0') return;
    try {
      const res = await this.#bmc.session.requestRaw(
        request('Get Payload Instance Info', NetFn.APP, GET_PAYLOAD_INSTANCE_INFO, [PayloadType.SOL, SOL_INSTANCE]),
      );
      if (res.completionCode !== 0 || res.data.length < 4) return;
      const owner = Buffer.from(res.data).readUInt32LE(0);
      if (owner === 0) this.#finish('SOL was deactivated on the BMC');
      else if (owner !== wire.bmcSessionId) this.#finish('another client took over SOL');
    } catch {
      // A missed check is not a takeover; the next one decides.
    }
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#close();
    this.emit('deactivated', reason);
  }

  #close(): void {
    this.#closed = true;
    this.#bmc.session.transport.release();
    if (this.#inflight) clearTimeout(this.#inflight.timer);
    this.#inflight = undefined;
    clearInterval(this.#ownerTimer);
    this.#bmc.session.onPayload(PayloadType.SOL, undefined);
  }

  /** Deactivates SOL (§24.2) and stops listening. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#close();
    await deactivateSol(this.#bmc).catch(() => undefined);
  }
}

/** Deactivate Payload (§24.2) for SOL instance 1. Resolves false when it was not active. */
export async function deactivateSol(bmc: Bmc): Promise<boolean> {
  const res = await bmc.session.requestRaw(
    request(
      'Deactivate Payload (SOL)',
      NetFn.APP,
      DEACTIVATE_PAYLOAD,
      encodePayloadActivation({ payloadType: PayloadType.SOL, instance: SOL_INSTANCE, aux: Buffer.alloc(4) }),
    ),
  );
  // 0x80: "payload already deactivated" (§24.2).
  if (res.completionCode === 0x80) return false;
  if (res.completionCode !== 0) throw new IpmiCommandError(bmc.host, 'Deactivate Payload (SOL)', NetFn.APP, DEACTIVATE_PAYLOAD, res.completionCode);
  return true;
}
