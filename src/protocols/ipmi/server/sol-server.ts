// The BMC side of Serial-over-LAN: payload activation (IPMI v2.0 §24.1–§24.5) and the SOL
// packet exchange with sequence numbers, acks and retransmission (§15.9–§15.12). One SOL
// instance per BMC, as on most real BMCs; a second console takes over by deactivating it,
// and the first one is told with the "deactivated" status bit instead of being dropped.
import { ActivatePayloadCode, CompletionCode, PayloadType } from '../constants.ts';
import { NO_VLAN, SolActivationAux, decodePayloadActivation, encodePayloadActivated } from '../session-commands.ts';
import { SolOperation, SolStatus, decodeSol, encodeSol, nextSolSequence } from '../sol.ts';
import type { SolPacket } from '../sol.ts';
import type { CommandContext, CommandReply } from './context.ts';
import { fail, ok } from './context.ts';
import type { BmcHandler, SolStream } from './handler.ts';
import type { Session20, ServerSession } from './session.ts';

/** Largest SOL character data per packet, both directions, as reported in Activate Payload (§24.1). */
export const SOL_MAX_PAYLOAD = 200;
/** Retransmit an unacknowledged SOL packet after this long, this many times (§26.3 parameter 4 defaults). */
export const SOL_RETRY_INTERVAL_MS = 500;
export const SOL_RETRIES = 7;
/** Only instance 1 exists. */
const SOL_INSTANCE = 1;
/** Deactivate Payload completion code "payload already deactivated" (§24.2). */
const ALREADY_DEACTIVATED = 0x80;

/** How SolManager sends a SOL payload inside a session (framing, keys and sequence are the BMC's). */
export type SolSender = (session: Session20, payload: Buffer) => void;

interface Pending {
  readonly sequence: number;
  readonly data: Buffer;
  tries: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Active {
  readonly session: Session20;
  readonly stream: SolStream;
  outSequence: number;
  lastInbound: number;
  pending: Pending | undefined;
  queue: Buffer;
  flushScheduled: boolean;
}

export class SolManager {
  readonly #handler: BmcHandler;
  readonly #send: SolSender;
  readonly #port: () => number;
  #active: Active | undefined;

  constructor(handler: BmcHandler, send: SolSender, port: () => number) {
    this.#handler = handler;
    this.#send = send;
    this.#port = port;
  }

  /** The session holding SOL, if any. */
  get owner(): ServerSession | undefined {
    return this.#active?.session;
  }

  activate(ctx: CommandContext): CommandReply {
    const session = ctx.session;
    if (session === undefined || session.kind !== 'rmcp+') return fail(CompletionCode.NOT_SUPPORTED_IN_PRESENT_STATE);
    if (ctx.data.length < 2) return fail(CompletionCode.DATA_LENGTH_INVALID);
    const req = decodePayloadActivation(ctx.data);
    if (req.payloadType !== PayloadType.SOL || req.instance !== SOL_INSTANCE) return fail(CompletionCode.INVALID_DATA_FIELD);
    if (this.#handler.attachSol === undefined) return fail(ActivatePayloadCode.DISABLED);
    if (this.#active !== undefined) return fail(ActivatePayloadCode.ALREADY_ACTIVE);
    const aux = req.aux[0] as number;
    if ((aux & SolActivationAux.ENCRYPT) !== 0 && session.suite.confidentiality === 0) return fail(ActivatePayloadCode.ENCRYPTION_UNAVAILABLE);
    // Attach first: a handler that throws (its VM has no console now) leaves SOL free.
    let active: Active | undefined;
    const stream = this.#handler.attachSol((data) => {
      if (active !== undefined) this.#fromHost(active, data);
    });
    active = { session, stream, outSequence: 0, lastInbound: 0, pending: undefined, queue: Buffer.alloc(0), flushScheduled: false };
    this.#active = active;
    return ok(
      encodePayloadActivated({
        aux: Buffer.alloc(4),
        inboundPayloadSize: SOL_MAX_PAYLOAD,
        outboundPayloadSize: SOL_MAX_PAYLOAD,
        port: this.#port(),
        vlan: NO_VLAN,
      }),
    );
  }

  deactivate(ctx: CommandContext): CommandReply {
    if (ctx.data.length < 2) return fail(CompletionCode.DATA_LENGTH_INVALID);
    const req = decodePayloadActivation(ctx.data);
    if (req.payloadType !== PayloadType.SOL || req.instance !== SOL_INSTANCE) return fail(CompletionCode.INVALID_DATA_FIELD);
    const active = this.#active;
    if (active === undefined) return fail(ALREADY_DEACTIVATED);
    // Another console taking over: tell the current one, so it exits cleanly instead of timing out.
    if (active.session !== ctx.session) this.#notifyDeactivated(active);
    this.#detach(active);
    return ok();
  }

  activationStatus(ctx: CommandContext): CommandReply {
    if (ctx.data[0] !== PayloadType.SOL) return fail(CompletionCode.INVALID_DATA_FIELD);
    return ok(Buffer.from([SOL_INSTANCE, this.#active === undefined ? 0 : 0x01, 0x00]));
  }

  instanceInfo(ctx: CommandContext): CommandReply {
    if (ctx.data[0] !== PayloadType.SOL || ctx.data[1] !== SOL_INSTANCE) return fail(CompletionCode.INVALID_DATA_FIELD);
    const out = Buffer.alloc(12);
    const owner = this.#active?.session;
    if (owner !== undefined) {
      out.writeUInt32LE(owner.bmcSessionId, 0);
      out[4] = 1; // primary serial port
    }
    return ok(out);
  }

  /** A SOL payload from a console in an active session. */
  onPacket(session: Session20, payload: Buffer): void {
    const active = this.#active;
    if (active === undefined || active.session !== session) return;
    const p = decodeSol(payload);
    if (p.ackSequence !== 0 && active.pending !== undefined && p.ackSequence === active.pending.sequence) {
      const pending = active.pending;
      clearTimeout(pending.timer);
      active.pending = undefined;
      if ((p.flags & SolOperation.NACK) === 0 && p.acceptedCount < pending.data.length) {
        // Partly accepted: the rest goes again, first (§15.10).
        active.queue = Buffer.concat([pending.data.subarray(p.acceptedCount), active.queue]);
      } else if ((p.flags & SolOperation.NACK) !== 0) {
        active.queue = Buffer.concat([pending.data, active.queue]);
      }
    }
    let ack: { sequence: number; accepted: number } | undefined;
    if (p.sequence !== 0) {
      if (p.sequence !== active.lastInbound) {
        active.lastInbound = p.sequence;
        if (p.data.length > 0) active.stream.write(p.data);
        if ((p.flags & SolOperation.GENERATE_BREAK) !== 0) active.stream.sendBreak();
      }
      // A retransmission (same sequence) is acknowledged again but not delivered twice.
      ack = { sequence: p.sequence, accepted: p.data.length };
    }
    this.#flush(active, ack);
  }

  /** Ends SOL when its session ends. */
  sessionClosed(session: ServerSession): void {
    const active = this.#active;
    if (active !== undefined && active.session === session) this.#detach(active);
  }

  close(): void {
    if (this.#active !== undefined) this.#detach(this.#active);
  }

  #fromHost(active: Active, data: Buffer): void {
    if (this.#active !== active) return;
    active.queue = Buffer.concat([active.queue, data]);
    if (!active.flushScheduled) {
      active.flushScheduled = true;
      queueMicrotask(() => {
        active.flushScheduled = false;
        if (this.#active === active) this.#flush(active, undefined);
      });
    }
  }

  /**
   * Acknowledges first, in an ack-only packet, then sends queued output if nothing is in
   * flight. Data is never piggybacked on an ack: ipmitool drops such data when it arrives
   * as the ack of a break packet, and stops printing afterwards (observed with 1.8.19).
   */
  #flush(active: Active, ack: { sequence: number; accepted: number } | undefined): void {
    if (ack !== undefined) this.#sendPacket(active, { sequence: 0, ackSequence: ack.sequence, acceptedCount: ack.accepted, flags: 0, data: Buffer.alloc(0) });
    if (active.pending === undefined && active.queue.length > 0) {
      const data = active.queue.subarray(0, SOL_MAX_PAYLOAD);
      active.queue = active.queue.subarray(data.length);
      active.outSequence = nextSolSequence(active.outSequence);
      const pending: Pending = { sequence: active.outSequence, data: Buffer.from(data), tries: 0, timer: undefined };
      active.pending = pending;
      this.#transmit(active, pending);
    }
  }

  #transmit(active: Active, pending: Pending): void {
    this.#sendPacket(active, { sequence: pending.sequence, ackSequence: 0, acceptedCount: 0, flags: 0, data: pending.data });
    pending.timer = setTimeout(() => {
      if (active.pending !== pending || this.#active !== active) return;
      pending.tries++;
      if (pending.tries > SOL_RETRIES) {
        // The console is gone or deaf: drop this output and go on with the rest.
        active.pending = undefined;
        this.#flush(active, undefined);
        return;
      }
      this.#transmit(active, pending);
    }, SOL_RETRY_INTERVAL_MS);
    pending.timer.unref?.();
  }

  #sendPacket(active: Active, p: SolPacket): void {
    this.#send(active.session, encodeSol(p));
  }

  #notifyDeactivated(active: Active): void {
    active.outSequence = nextSolSequence(active.outSequence);
    this.#sendPacket(active, { sequence: active.outSequence, ackSequence: 0, acceptedCount: 0, flags: SolStatus.DEACTIVATED, data: Buffer.alloc(0) });
  }

  #detach(active: Active): void {
    if (active.pending !== undefined) clearTimeout(active.pending.timer);
    active.pending = undefined;
    if (this.#active === active) this.#active = undefined;
    active.stream.close();
  }
}
