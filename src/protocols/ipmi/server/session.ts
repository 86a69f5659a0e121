// One session on the emulated BMC, IPMI 1.5 or RMCP+, and its replay window.
import type { CipherSuite } from '../cipher-suites.ts';
import type { SessionKeys } from '../crypto.ts';
import type { RakpExchange } from '../rakp.ts';
import type { Session15AuthType } from '../session15.ts';
import type { BmcUser } from './handler.ts';

/**
 * Inbound sequence numbers the BMC accepts around the highest one seen (IPMI v2.0 §6.12.13
 * leaves the window to the implementation): up to 32 ahead, so a console may skip numbers
 * after retries, and up to 16 behind if not seen yet, so reordered packets still count.
 */
export const SEQUENCE_WINDOW_AHEAD = 32;
export const SEQUENCE_WINDOW_BEHIND = 16;

/** Rejects replayed and far-out-of-window sequence numbers, with 32-bit wrap-around. */
export class SequenceWindow {
  #highest: number;
  /** Bit n set: sequence (highest - n) has been seen. */
  #seen = 1;

  constructor(highest: number) {
    this.#highest = highest >>> 0;
  }

  accept(sequence: number): boolean {
    const diff = ((sequence >>> 0) - this.#highest) | 0;
    if (diff > 0) {
      if (diff > SEQUENCE_WINDOW_AHEAD) return false;
      this.#seen = diff >= 32 ? 1 : ((this.#seen << diff) | 1) >>> 0;
      this.#highest = sequence >>> 0;
      return true;
    }
    const back = -diff;
    if (back >= SEQUENCE_WINDOW_BEHIND) return false;
    const bit = 1 << back;
    if ((this.#seen & bit) !== 0) return false;
    this.#seen = (this.#seen | bit) >>> 0;
    return true;
  }
}

/** Replies kept per session to answer retransmissions (ipmitool resends the identical datagram when a reply is lost). */
export const RECENT_REPLIES = 8;

/**
 * The last few requests and the datagrams that answered them. A retransmission (byte for
 * byte the same datagram) gets the same answer again instead of running the command twice
 * or being dropped as a replay: chassis control must not run twice, and the console must
 * not time out because one reply was lost.
 */
export class RecentReplies {
  readonly #entries = new Map<number, { readonly request: Buffer; readonly reply: Buffer }>();

  remember(sequence: number, request: Buffer, reply: Buffer): void {
    this.#entries.delete(sequence);
    this.#entries.set(sequence, { request: Buffer.from(request), reply });
    if (this.#entries.size > RECENT_REPLIES) this.#entries.delete(this.#entries.keys().next().value as number);
  }

  /** The reply to this exact datagram, if it was answered recently. */
  replyTo(sequence: number, request: Buffer): Buffer | undefined {
    const entry = this.#entries.get(sequence);
    return entry !== undefined && entry.request.equals(request) ? entry.reply : undefined;
  }
}

export interface RemoteAddress {
  readonly address: string;
  readonly port: number;
}

/** The states of an RMCP+ session on the BMC side (IPMI v2.0 §13.15, figure 13-7). */
export type Session20State = 'open-session-sent' | 'rakp2-sent' | 'active';

export interface Session20 {
  readonly kind: 'rmcp+';
  state: Session20State;
  readonly bmcSessionId: number;
  readonly consoleSessionId: number;
  readonly remote: RemoteAddress;
  readonly suite: CipherSuite;
  /** The maximum privilege granted by Open Session (never 0). */
  readonly maxPrivilege: number;
  /** The privilege ceiling after RAKP: role, user limit and Open Session maximum, whichever is lowest. */
  maxPrivilegeGranted?: number;
  /** Tag of the Open Session Request, to answer a retransmission with the same response. */
  readonly openTag: number;
  user?: BmcUser;
  /** The RAKP inputs, complete after RAKP1. */
  exchange?: RakpExchange;
  /** RAKP2 as sent, resent when the same RAKP1 arrives again. */
  rakp2?: Buffer;
  /** RAKP4 as sent, resent when the same RAKP3 arrives again. */
  rakp4?: Buffer;
  keys?: SessionKeys;
  privilege: number;
  lastActivity: number;
  window: SequenceWindow;
  outboundSequence: number;
  readonly recent: RecentReplies;
  /** The last SOL datagram, whose retransmission is passed on so SOL can ack it again. */
  lastSol?: Buffer;
}

export interface Session15 {
  readonly kind: 'ipmi15';
  state: 'active';
  readonly bmcSessionId: number;
  readonly remote: RemoteAddress;
  readonly authType: Session15AuthType;
  readonly user: BmcUser;
  readonly maxPrivilege: number;
  privilege: number;
  lastActivity: number;
  window: SequenceWindow;
  outboundSequence: number;
  readonly recent: RecentReplies;
}

export type ServerSession = Session20 | Session15;

/** A Get Session Challenge answered and waiting for Activate Session (IPMI v2.0 §22.16). */
export interface PendingChallenge {
  readonly temporarySessionId: number;
  readonly remote: RemoteAddress;
  readonly user: BmcUser;
  readonly authType: Session15AuthType;
  readonly challenge: Buffer;
  readonly created: number;
  /** Once activated: the Activate Session request and reply, kept to answer a retransmission alike. */
  activated?: { readonly request: Buffer; readonly reply: Buffer };
}
