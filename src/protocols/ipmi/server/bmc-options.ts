// What an emulated BMC is built with and what it keeps count of: its options and their
// defaults (session slots and timeouts, cipher suites, IPMI 1.5 authentication types), the
// I/O server.ts gives it, and its counters.
import type { Session15AuthType } from '../session15.ts';
import type { DeviceIdentity } from './context.ts';
import type { BmcHandler } from './handler.ts';
import type { RemoteAddress } from './session.ts';

/** Session slots per BMC; real BMCs have 4–16 (IPMI v2.0 §22.24 reports the count). */
export const DEFAULT_MAX_SESSIONS = 8;
/** An active session idle this long is closed (IPMI v2.0 §6.12.15 suggests 60 s). */
export const DEFAULT_SESSION_TIMEOUT_MS = 60_000;
/** A login (Open Session … RAKP4, or challenge … activate) must finish within this. */
export const DEFAULT_SETUP_TIMEOUT_MS = 10_000;
/** Cipher suites offered by default, preferred first. Suite 0 (no authentication) is opt-in. */
export const DEFAULT_CIPHER_SUITES: readonly number[] = [17, 3, 16, 15, 2, 1];
/** IPMI 1.5 authentication types accepted by default. "none" (no password check at all) is opt-in. */
export const DEFAULT_AUTH_TYPES_15: readonly Session15AuthType[] = ['md5', 'password'];

export interface BmcOptions {
  readonly handler?: BmcHandler;
  /** 16 bytes; default random. Reported by Get System/Device GUID and used in RAKP2. */
  readonly guid?: Buffer;
  readonly identity?: Partial<DeviceIdentity>;
  /** Cipher suite IDs to offer, preferred first (each must be in CIPHER_SUITES). */
  readonly cipherSuites?: readonly number[];
  readonly authTypes15?: readonly Session15AuthType[];
  /** The BMC key Kg (two-key login, §13.31); default none (Kg = the user's password). */
  readonly kg?: Buffer;
  readonly maxSessions?: number;
  readonly sessionTimeoutMs?: number;
  readonly setupTimeoutMs?: number;
}

export interface BmcIo {
  readonly port: number;
  send(packet: Buffer, to: RemoteAddress): void;
  random(n: number): Buffer;
  now(): number;
}

export interface BmcStats {
  received: number;
  /** Malformed packets, and packets whose authcode/ICV did not verify. */
  badPackets: number;
  authFailures: number;
  replays: number;
  /** Well-formed packets for no known session, or not allowed in the session's state. */
  dropped: number;
  /** Commands whose implementation or handler threw (answered 0xFF). */
  commandErrors: number;
  sessionsOpened: number;
  sessionsClosed: number;
  sessionsExpired: number;
}
