// Typed readers and writers for the option values anvil uses (RFC 2132, RFC 3004, RFC 4578,
// PXE spec 2.1 §2.4.1 for option 43, iPXE's option 175). Pure: no I/O.
// A reader given a value of the wrong shape throws DhcpDecodeError, so a serve loop drops
// the packet and counts it like any other malformed one.
import { ipToBytes, ipToString, type DhcpOptions } from './codec.ts';
import { OPTION } from './constants.ts';
import { DhcpDecodeError, DhcpError } from './errors.ts';

function wrongLength(code: number, length: number, expected: string): DhcpDecodeError {
  return new DhcpDecodeError(`option ${code} is ${length} bytes; expected ${expected}`);
}

export function getU8(options: DhcpOptions, code: number): number | undefined {
  const v = options.get(code);
  if (v === undefined) return undefined;
  if (v.length !== 1) throw wrongLength(code, v.length, '1');
  return v[0]!;
}

export function getU16(options: DhcpOptions, code: number): number | undefined {
  const v = options.get(code);
  if (v === undefined) return undefined;
  if (v.length !== 2) throw wrongLength(code, v.length, '2');
  return (v[0]! << 8) | v[1]!;
}

export function getU32(options: DhcpOptions, code: number): number | undefined {
  const v = options.get(code);
  if (v === undefined) return undefined;
  if (v.length !== 4) throw wrongLength(code, v.length, '4');
  return ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0;
}

export function getIp(options: DhcpOptions, code: number): string | undefined {
  const v = options.get(code);
  if (v === undefined) return undefined;
  if (v.length !== 4) throw wrongLength(code, v.length, '4');
  return ipToString(v);
}

export function getIps(options: DhcpOptions, code: number): string[] | undefined {
  const v = options.get(code);
  if (v === undefined) return undefined;
  if (v.length === 0 || v.length % 4 !== 0) throw wrongLength(code, v.length, 'a multiple of 4');
  const out: string[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(ipToString(v, i));
  return out;
}

/** NVT ASCII strings (RFC 2132 §2); trailing NULs some clients add are dropped. */
export function getString(options: DhcpOptions, code: number): string | undefined {
  const v = options.get(code);
  if (v === undefined) return undefined;
  return Buffer.from(v).toString('latin1').replace(/\0+$/, '');
}

/** Option 93 (RFC 4578 §2.1): a list of 16-bit architecture types, most preferred first. */
export function getClientArchs(options: DhcpOptions): number[] | undefined {
  const v = options.get(OPTION.CLIENT_ARCH);
  if (v === undefined) return undefined;
  if (v.length === 0 || v.length % 2 !== 0) throw wrongLength(OPTION.CLIENT_ARCH, v.length, 'a multiple of 2');
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 2) out.push((v[i]! << 8) | v[i + 1]!);
  return out;
}

export interface ClientNdi {
  readonly type: number;
  readonly major: number;
  readonly minor: number;
}

/** Option 94 (RFC 4578 §2.2): network interface type 1 = UNDI, and its version. */
export function getClientNdi(options: DhcpOptions): ClientNdi | undefined {
  const v = options.get(OPTION.CLIENT_NDI);
  if (v === undefined) return undefined;
  if (v.length !== 3) throw wrongLength(OPTION.CLIENT_NDI, v.length, '3');
  return { type: v[0]!, major: v[1]!, minor: v[2]! };
}

/**
 * Option 97 (RFC 4578 §2.3): type 0 then a 16-byte GUID, rendered in the usual SMBIOS text
 * form. Other types and lengths are kept as hex, since ROMs vary and the value is only echoed.
 */
export function getClientUuid(options: DhcpOptions): string | undefined {
  const v = options.get(OPTION.CLIENT_UUID);
  if (v === undefined) return undefined;
  if (v.length === 0) throw wrongLength(OPTION.CLIENT_UUID, 0, '17');
  const hex = Buffer.from(v).toString('hex');
  if (v.length !== 17 || v[0] !== 0) return hex;
  const g = hex.slice(2);
  return `${g.slice(0, 8)}-${g.slice(8, 12)}-${g.slice(12, 16)}-${g.slice(16, 20)}-${g.slice(20)}`;
}

/**
 * Option 77. RFC 3004 §4 defines a list of length-prefixed class names, but iPXE sends a
 * bare string ("iPXE"; ipxe.org/cfg/user-class), as do many other clients. A value that
 * parses exactly as RFC 3004 is read that way; anything else is one plain string.
 */
export function getUserClasses(options: DhcpOptions): string[] | undefined {
  const v = options.get(OPTION.USER_CLASS);
  if (v === undefined) return undefined;
  const classes: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i]!;
    if (len === 0 || i + 1 + len > v.length) break;
    classes.push(Buffer.from(v.subarray(i + 1, i + 1 + len)).toString('latin1'));
    i += 1 + len;
  }
  if (i === v.length && classes.length > 0) return classes;
  return [Buffer.from(v).toString('latin1').replace(/\0+$/, '')];
}

/** Encapsulated sub-options (option 43 for PXE, option 175 for iPXE): code → value. */
export type SubOptions = Map<number, Uint8Array>;

/** Parses TLV sub-options (RFC 2132 §8.4 layout: pad 0 and end 255 as in the main area). */
export function decodeSubOptions(value: Uint8Array, code: number): SubOptions {
  const out: SubOptions = new Map();
  let i = 0;
  while (i < value.length) {
    const sub = value[i]!;
    if (sub === 0) {
      i++;
      continue;
    }
    if (sub === 255) break;
    const len = value[i + 1];
    if (len === undefined || i + 2 + len > value.length) {
      throw new DhcpDecodeError(`option ${code} sub-option ${sub} is truncated`);
    }
    out.set(sub, new Uint8Array(value.subarray(i + 2, i + 2 + len)));
    i += 2 + len;
  }
  return out;
}

export function encodeSubOptions(subs: SubOptions): Uint8Array {
  const parts: number[] = [];
  for (const [code, v] of subs) {
    if (v.length > 255) throw new DhcpError('DHCP_ENCODE', `sub-option ${code} is longer than 255 bytes`);
    parts.push(code, v.length, ...v);
  }
  parts.push(255);
  return Uint8Array.from(parts);
}

/** Option 43 as PXE sub-options, or undefined when absent. */
export function getPxeSubOptions(options: DhcpOptions): SubOptions | undefined {
  const v = options.get(OPTION.VENDOR_SPECIFIC);
  return v === undefined ? undefined : decodeSubOptions(v, OPTION.VENDOR_SPECIFIC);
}

/** Option 175, iPXE's encapsulated options; present only when the client is iPXE. */
export function getIpxeSubOptions(options: DhcpOptions): SubOptions | undefined {
  const v = options.get(OPTION.IPXE_ENCAPSULATED);
  return v === undefined ? undefined : decodeSubOptions(v, OPTION.IPXE_ENCAPSULATED);
}

// Writers: build option values for replies.
export const u8 = (n: number): Uint8Array => Uint8Array.of(n & 255);
export const u16 = (n: number): Uint8Array => Uint8Array.of((n >>> 8) & 255, n & 255);
export const u32 = (n: number): Uint8Array => Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
export const ip = (address: string): Uint8Array => ipToBytes(address);
export function ips(addresses: readonly string[]): Uint8Array {
  const out = new Uint8Array(addresses.length * 4);
  addresses.forEach((a, i) => out.set(ipToBytes(a), i * 4));
  return out;
}
export const str = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
