// Pure DHCPv4 codec: bytes to a DhcpPacket and back. No sockets, clock or randomness.
// Wire format: RFC 2131 §2 (BOOTP header), RFC 2132 (options, overload §9.3),
// RFC 3396 (long options split across several instances, concatenated on decode).
import {
  BOOTP_HEADER_LENGTH,
  FILE_LENGTH,
  FILE_OFFSET,
  MAGIC_COOKIE,
  MIN_BOOTP_MESSAGE_LENGTH,
  OPTION,
  OPTIONS_OFFSET,
  OVERLOAD,
  SNAME_LENGTH,
  SNAME_OFFSET,
} from './constants.ts';
import { DhcpDecodeError, DhcpError } from './errors.ts';

/** Options by code, in the order they were first seen (Map keeps insertion order). */
export type DhcpOptions = Map<number, Uint8Array>;

export interface DhcpPacket {
  readonly op: number;
  readonly htype: number;
  readonly hlen: number;
  readonly hops: number;
  readonly xid: number;
  readonly secs: number;
  readonly flags: number;
  readonly ciaddr: string;
  readonly yiaddr: string;
  readonly siaddr: string;
  readonly giaddr: string;
  /** The full 16-byte chaddr field; the hardware address is its first `hlen` bytes. */
  readonly chaddr: Uint8Array;
  /** Server host name, '' when empty or when the field carried options (overload). */
  readonly sname: string;
  /** Boot file name, '' when empty or when the field carried options (overload). */
  readonly file: string;
  readonly options: DhcpOptions;
}

const CHADDR_OFFSET = 28;
const CHADDR_LENGTH = 16;
const MAX_OPTION_LENGTH = 255;

export function ipToString(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses dotted-quad IPv4; throws DHCP_ENCODE on anything else. */
export function ipToBytes(ip: string): Uint8Array {
  const m = IPV4.exec(ip);
  if (m === null) throw new DhcpError('DHCP_ENCODE', `not an IPv4 address: '${ip}'`);
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255) throw new DhcpError('DHCP_ENCODE', `not an IPv4 address: '${ip}'`);
    bytes[i] = n;
  }
  return bytes;
}

export function ipToNumber(ip: string): number {
  const b = ipToBytes(ip);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export function numberToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** 10.9.0.1 with 255.255.255.0 → 10.9.0.255 (RFC 919 §7, the subnet's broadcast address). */
export function directedBroadcast(address: string, subnetMask: string): string {
  const mask = ipToNumber(subnetMask);
  return numberToIp(((ipToNumber(address) & mask) | ~mask) >>> 0);
}

/** Lower-case, colon-separated: the MAC spelling anvil uses everywhere (`/boot/<mac>`). */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Accepts aa:bb:.., aa-bb-.. or aabbccddeeff; throws DHCP_ENCODE otherwise. */
export function parseMac(mac: string): Uint8Array {
  const hex = mac.replace(/[:-]/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) throw new DhcpError('DHCP_ENCODE', `not a MAC address: '${mac}'`);
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

/** The client's hardware address: the first hlen bytes of chaddr (RFC 2131 §2). */
export function packetMac(packet: DhcpPacket): string {
  return formatMac(packet.chaddr.subarray(0, Math.min(packet.hlen, CHADDR_LENGTH)));
}

/** A NUL-terminated ASCII field; bytes after the first NUL are ignored. */
function readCString(buf: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + offset, end - offset).toString('latin1');
}

/**
 * Reads one option area (RFC 2132 §2) into `into`, concatenating repeated codes (RFC 3396 §7).
 * A truncated option is an error; a missing END at the very end of the area is tolerated,
 * since several PXE ROMs omit it in the file/sname fields.
 */
function readOptionArea(buf: Uint8Array, start: number, end: number, into: DhcpOptions): void {
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === OPTION.PAD) {
      i++;
      continue;
    }
    if (code === OPTION.END) return;
    if (i + 1 >= end) throw new DhcpDecodeError(`option ${code} has no length byte`, i);
    const length = buf[i + 1]!;
    if (i + 2 + length > end) {
      throw new DhcpDecodeError(`option ${code} claims ${length} bytes but only ${end - i - 2} remain`, i);
    }
    // A copy as a plain Uint8Array: a Buffer from node:dgram would otherwise leak through.
    const value = new Uint8Array(buf.subarray(i + 2, i + 2 + length));
    const previous = into.get(code);
    into.set(code, previous === undefined ? value : concat(previous, value));
    i += 2 + length;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Decodes a DHCP message; throws DhcpDecodeError on anything malformed. */
export function decode(input: Uint8Array): DhcpPacket {
  if (input.length < OPTIONS_OFFSET) {
    throw new DhcpDecodeError(`message is ${input.length} bytes, shorter than the ${OPTIONS_OFFSET}-byte minimum`, 0);
  }
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const op = input[0]!;
  if (op !== 1 && op !== 2) throw new DhcpDecodeError(`op ${op} is neither BOOTREQUEST nor BOOTREPLY`, 0);
  const hlen = input[2]!;
  if (hlen > CHADDR_LENGTH) throw new DhcpDecodeError(`hlen ${hlen} exceeds the 16-byte chaddr field`, 2);
  if (view.getUint32(BOOTP_HEADER_LENGTH) !== MAGIC_COOKIE) {
    // Plain BOOTP (RFC 951) carries vendor data here instead; anvil only speaks DHCP.
    throw new DhcpDecodeError('missing DHCP magic cookie (plain BOOTP is not served)', BOOTP_HEADER_LENGTH);
  }
  const options: DhcpOptions = new Map();
  readOptionArea(input, OPTIONS_OFFSET, input.length, options);
  // RFC 2132 §9.3: overloaded fields are read after the options field, file before sname.
  const overload = options.get(OPTION.OVERLOAD);
  let overloadValue = 0;
  if (overload !== undefined) {
    if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) {
      throw new DhcpDecodeError('option 52 (overload) must be one byte of 1, 2 or 3', OPTIONS_OFFSET);
    }
    overloadValue = overload[0]!;
    if (overloadValue & OVERLOAD.FILE) readOptionArea(input, FILE_OFFSET, FILE_OFFSET + FILE_LENGTH, options);
    if (overloadValue & OVERLOAD.SNAME) readOptionArea(input, SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH, options);
  }
  return {
    op,
    htype: input[1]!,
    hlen,
    hops: input[3]!,
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: ipToString(input, 12),
    yiaddr: ipToString(input, 16),
    siaddr: ipToString(input, 20),
    giaddr: ipToString(input, 24),
    chaddr: new Uint8Array(input.subarray(CHADDR_OFFSET, CHADDR_OFFSET + CHADDR_LENGTH)),
    sname: overloadValue & OVERLOAD.SNAME ? '' : readCString(input, SNAME_OFFSET, SNAME_LENGTH),
    file: overloadValue & OVERLOAD.FILE ? '' : readCString(input, FILE_OFFSET, FILE_LENGTH),
    options,
  };
}

function writeCString(out: Uint8Array, offset: number, length: number, value: string, field: string): void {
  const bytes = Buffer.from(value, 'latin1');
  // One byte stays NUL: readers expect a terminated string (RFC 2131 §2, "null terminated").
  if (bytes.length >= length) {
    throw new DhcpError('DHCP_ENCODE', `${field} '${value}' is ${bytes.length} bytes; the field holds ${length - 1}`);
  }
  out.set(bytes, offset);
}

/**
 * Encodes a packet. Options keep the Map's order, except that option 53 always goes first
 * (some PXE ROMs look for it there). Values over 255 bytes are split into consecutive
 * instances (RFC 3396 §5). Encode never overloads file/sname: replies stay small.
 */
export function encode(packet: DhcpPacket): Uint8Array {
  const parts: number[] = [];
  const ordered = [...packet.options.entries()].sort(([a], [b]) => Number(b === OPTION.MESSAGE_TYPE) - Number(a === OPTION.MESSAGE_TYPE));
  for (const [code, value] of ordered) {
    if (code === OPTION.PAD || code === OPTION.END || code < 0 || code > 254) {
      throw new DhcpError('DHCP_ENCODE', `option code ${code} cannot carry a value`);
    }
    let offset = 0;
    do {
      const chunk = value.subarray(offset, offset + MAX_OPTION_LENGTH);
      parts.push(code, chunk.length, ...chunk);
      offset += MAX_OPTION_LENGTH;
    } while (offset < value.length);
  }
  parts.push(OPTION.END);
  const length = Math.max(MIN_BOOTP_MESSAGE_LENGTH, OPTIONS_OFFSET + parts.length);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  out[0] = packet.op;
  out[1] = packet.htype;
  out[2] = packet.hlen;
  out[3] = packet.hops;
  view.setUint32(4, packet.xid >>> 0);
  view.setUint16(8, packet.secs);
  view.setUint16(10, packet.flags);
  out.set(ipToBytes(packet.ciaddr), 12);
  out.set(ipToBytes(packet.yiaddr), 16);
  out.set(ipToBytes(packet.siaddr), 20);
  out.set(ipToBytes(packet.giaddr), 24);
  out.set(packet.chaddr.subarray(0, CHADDR_LENGTH), CHADDR_OFFSET);
  writeCString(out, SNAME_OFFSET, SNAME_LENGTH, packet.sname, 'sname');
  writeCString(out, FILE_OFFSET, FILE_LENGTH, packet.file, 'file');
  view.setUint32(BOOTP_HEADER_LENGTH, MAGIC_COOKIE);
  out.set(parts, OPTIONS_OFFSET);
  return out;
}
