// The shape every IPMI command payload builder returns, and the bounded reader the
// response decoders share. Pure: bytes in, values out (IPMI v2.0 §5, message formats).
import { IpmiDecodeError } from '../errors.ts';

/** A request ready for a session to send: which command, its data, and whether resending it is harmless. */
export interface CommandRequest {
  /** The spec's name, for errors and logs: 'Get Chassis Status'. */
  readonly name: string;
  readonly netFn: number;
  readonly cmd: number;
  readonly data: Uint8Array;
  /**
   * True when a retry after a lost reply cannot change the outcome (reads, and writes
   * of an absolute value). False for actions such as Chassis Control or BMC reset: a
   * retry could power-cycle a machine twice, so the client never resends them blindly.
   */
  readonly idempotent: boolean;
}

/**
 * Response data that does not match the command's layout (too short, bad checksum, bad
 * field). A decode error (code IPMI_DECODE): the session that carried it stays usable.
 */
export class IpmiPayloadError extends IpmiDecodeError {
  override readonly name: string = 'IpmiPayloadError';
}

/** The channel number meaning "the channel this request arrived on" (IPMI v2.0 §6.3). */
export const CURRENT_CHANNEL = 0x0e;

export function request(name: string, netFn: number, cmd: number, data: ArrayLike<number> = [], idempotent = true): CommandRequest {
  return { name, netFn, cmd, data: Uint8Array.from(data), idempotent };
}

/** Throws unless the response data holds at least `length` bytes. */
export function need(data: Uint8Array, length: number, what: string): void {
  if (data.length < length) {
    throw new IpmiPayloadError(`${what}: response has ${data.length} data bytes, expected at least ${length}`);
  }
}

/** Byte `i`, which the caller has already bounds-checked with need(). */
export function at(data: Uint8Array, i: number): number {
  return data[i] ?? 0;
}

export function u16le(data: Uint8Array, i: number): number {
  return at(data, i) | (at(data, i + 1) << 8);
}

export function u24le(data: Uint8Array, i: number): number {
  return at(data, i) | (at(data, i + 1) << 8) | (at(data, i + 2) << 16);
}

export function u32le(data: Uint8Array, i: number): number {
  return (at(data, i) | (at(data, i + 1) << 8) | (at(data, i + 2) << 16) | (at(data, i + 3) << 24)) >>> 0;
}

export function hex(data: ArrayLike<number>, sep = ''): string {
  return Array.from(data, (b) => b.toString(16).padStart(2, '0')).join(sep);
}

/** Text padded with NULs (user names, passwords), cut at the first NUL on decode. */
export function padded(text: string, length: number, what: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > length) throw new RangeError(`${what} is longer than ${length} bytes`);
  const out = new Uint8Array(length);
  out.set(bytes);
  return out;
}

export function unpad(data: Uint8Array): string {
  const end = data.indexOf(0);
  return new TextDecoder().decode(end < 0 ? data : data.subarray(0, end));
}
