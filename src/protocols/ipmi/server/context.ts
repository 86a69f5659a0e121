// What a command implementation sees: the request, the session it came in, and the BMC.
import type { CipherSuite } from '../cipher-suites.ts';
import type { Session15AuthType } from '../session15.ts';
import type { Awaitable, BmcHandler } from './handler.ts';
import type { ServerSession } from './session.ts';
import type { SolManager } from './sol-server.ts';

/** What Get Device ID reports (IPMI v2.0 §20.1, table 20-2). */
export interface DeviceIdentity {
  readonly deviceId: number;
  readonly deviceRevision: number;
  readonly firmwareMajor: number;
  /** Two BCD digits, e.g. 0x23 for x.23. */
  readonly firmwareMinor: number;
  /** 20-bit IANA enterprise number; 0 = unspecified. */
  readonly manufacturerId: number;
  readonly productId: number;
  readonly auxFirmware: Buffer;
}

/** Mutable BMC state that is not the machine's (so not the handler's). */
export interface BmcRuntimeState {
  /** Boot option parameters other than 5, as last written (§28.12): 0 set-in-progress, 3, 4. */
  readonly bootParams: Map<number, Buffer>;
  sdrReservation: number;
  selReservation: number;
  /** SEL time minus the clock, in seconds (Set SEL Time, §31.11). */
  selTimeOffset: number;
  readonly solConfig: Map<number, Buffer>;
  /** The LAN channel's access bytes (Get Channel Access data, §22.23), non-volatile and volatile. */
  readonly channelAccess: { 'non-volatile': Buffer; volatile: Buffer };
}

export interface BmcContext {
  readonly handler: BmcHandler;
  readonly identity: DeviceIdentity;
  readonly guid: Buffer;
  /** The UDP port the BMC listens on: reported as the SOL port. */
  readonly port: number;
  readonly state: BmcRuntimeState;
  readonly sol: SolManager;
  /** Milliseconds since the epoch, from the injected clock. */
  now(): number;
  /** A fresh non-zero 16-bit reservation ID. */
  newReservation(): number;
  sessions(): Iterable<ServerSession>;
  /** Ends a session (and its SOL), after the current reply has gone out. */
  closeSession(bmcSessionId: number): boolean;
  readonly maxSessions: number;
  /** Cipher suites offered over RMCP+, in order of preference. */
  readonly cipherSuites: readonly CipherSuite[];
  /** The BMC key Kg for two-key logins (IPMI v2.0 §13.31), when set. */
  readonly kg: Buffer | undefined;
  /** Authentication types accepted over IPMI 1.5. */
  readonly authTypes15: readonly Session15AuthType[];
}

export interface CommandContext {
  readonly bmc: BmcContext;
  /** undefined for the few commands allowed before a session (auth capabilities, cipher suites). */
  readonly session: ServerSession | undefined;
  readonly netFn: number;
  readonly command: number;
  readonly data: Buffer;
}

export interface CommandReply {
  readonly cc: number;
  readonly data?: Uint8Array;
}

export interface CommandDef {
  /** Least session privilege that may run it (IPMI v2.0 appendix G). */
  readonly privilege: number;
  readonly run: (ctx: CommandContext) => Awaitable<CommandReply>;
}

export function commandKey(netFn: number, command: number): number {
  return (netFn << 8) | command;
}

/** Whether a handler's answer is still to come. */
export function isPending<T>(value: Awaitable<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * fn(value), at once when the value is there (the usual case: handlers answer synchronously),
 * after it resolves otherwise. A datagram's reply then needs no promise, nor a tick, per packet.
 */
export function andThen<T, U>(value: Awaitable<T>, fn: (value: T) => U): Awaitable<U> {
  return isPending(value) ? Promise.resolve(value).then(fn) : fn(value);
}

export const ok = (data?: Uint8Array): CommandReply => (data === undefined ? { cc: 0 } : { cc: 0, data });
export const fail = (cc: number): CommandReply => ({ cc });
