// Pure TFTP codec: bytes in, values out (RFC 1350 §5, OACK and options RFC 2347).
// No sockets, timers or clock; the server and client own the I/O.
import { ErrorCode, MAX_OPTIONS, Opcode, TRANSFER_MODES } from './constants.ts';
import type { TransferMode } from './constants.ts';
import { TftpDecodeError } from './errors.ts';

/** One option as sent: names keep the sender's case (RFC 2347 compares them case-insensitively). */
export type TftpOption = readonly [name: string, value: string];

export type TftpRequest = {
  readonly kind: 'rrq' | 'wrq';
  readonly filename: string;
  readonly mode: TransferMode;
  readonly options: readonly TftpOption[];
};
export type TftpData = { readonly kind: 'data'; readonly block: number; readonly data: Buffer };
export type TftpAck = { readonly kind: 'ack'; readonly block: number };
export type TftpErrorPacket = { readonly kind: 'error'; readonly code: number; readonly message: string };
export type TftpOack = { readonly kind: 'oack'; readonly options: readonly TftpOption[] };
export type TftpPacket = TftpRequest | TftpData | TftpAck | TftpErrorPacket | TftpOack;

const HEADER_SIZE = 4;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes one datagram, or throws TftpDecodeError. DATA's payload is a view, not a copy. */
export function decodePacket(packet: Buffer): TftpPacket {
  if (packet.length < 2) throw new TftpDecodeError('truncated', `${packet.length} bytes, no opcode`);
  const opcode = packet.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return decodeRequest(packet, opcode === Opcode.RRQ ? 'rrq' : 'wrq');
    case Opcode.DATA:
      requireLength(packet, HEADER_SIZE, 'DATA');
      return { kind: 'data', block: packet.readUInt16BE(2), data: packet.subarray(HEADER_SIZE) };
    case Opcode.ACK:
      // Trailing bytes after the block number are ignored: RFC 1350 gives ACK no body to check.
      requireLength(packet, HEADER_SIZE, 'ACK');
      return { kind: 'ack', block: packet.readUInt16BE(2) };
    case Opcode.ERROR: {
      requireLength(packet, HEADER_SIZE, 'ERROR');
      // Some stacks omit the message's terminating NUL; the message is informative only.
      const end = packet.indexOf(0, HEADER_SIZE);
      const message = packet.toString('latin1', HEADER_SIZE, end === -1 ? packet.length : end);
      return { kind: 'error', code: packet.readUInt16BE(2), message };
    }
    case Opcode.OACK:
      return { kind: 'oack', options: decodeOptions(packet, 2) };
    default:
      throw new TftpDecodeError('unknown-opcode', `opcode ${opcode}`);
  }
}

function requireLength(packet: Buffer, length: number, what: string): void {
  if (packet.length < length) throw new TftpDecodeError('truncated', `${what} of ${packet.length} bytes, needs ${length}`);
}

/** Reads a NUL-terminated string at `offset`; returns it and the offset after its NUL. */
function readString(packet: Buffer, offset: number, what: string): [string, number] {
  const end = packet.indexOf(0, offset);
  if (end === -1) throw new TftpDecodeError('unterminated-string', `${what} has no terminating NUL`);
  try {
    return [utf8.decode(packet.subarray(offset, end)), end + 1];
  } catch {
    throw new TftpDecodeError('invalid-utf8', `${what} is not UTF-8`);
  }
}

function decodeRequest(packet: Buffer, kind: 'rrq' | 'wrq'): TftpRequest {
  const [filename, afterName] = readString(packet, 2, 'filename');
  if (filename === '') throw new TftpDecodeError('empty-filename', 'empty filename');
  const [rawMode, afterMode] = readString(packet, afterName, 'mode');
  const mode = rawMode.toLowerCase();
  if (!isTransferMode(mode)) throw new TftpDecodeError('unknown-mode', `mode ${JSON.stringify(rawMode.slice(0, 32))}`);
  return { kind, filename, mode, options: decodeOptions(packet, afterMode) };
}

function isTransferMode(mode: string): mode is TransferMode {
  return (TRANSFER_MODES as readonly string[]).includes(mode);
}

/** Option pairs to the end of the packet, RFC 2347. Trailing NUL padding (seen from some ROMs) is ignored. */
function decodeOptions(packet: Buffer, offset: number): TftpOption[] {
  const options: TftpOption[] = [];
  let at = offset;
  while (at < packet.length) {
    if (isAllZero(packet, at)) break;
    if (options.length === MAX_OPTIONS) throw new TftpDecodeError('too-many-options', `more than ${MAX_OPTIONS} options`);
    const [name, afterName] = readString(packet, at, 'option name');
    if (name === '') throw new TftpDecodeError('empty-option-name', 'empty option name');
    if (afterName >= packet.length) throw new TftpDecodeError('odd-options', `option ${JSON.stringify(name.slice(0, 32))} has no value`);
    const [value, afterValue] = readString(packet, afterName, 'option value');
    options.push([name, value]);
    at = afterValue;
  }
  return options;
}

function isAllZero(packet: Buffer, from: number): boolean {
  for (let i = from; i < packet.length; i++) if (packet[i] !== 0) return false;
  return true;
}

function encodeStrings(opcode: Opcode, strings: readonly string[]): Buffer {
  const parts = strings.map((s) => Buffer.from(s, 'utf8'));
  const out = Buffer.alloc(2 + parts.reduce((n, p) => n + p.length + 1, 0));
  out.writeUInt16BE(opcode, 0);
  let at = 2;
  for (const part of parts) {
    part.copy(out, at);
    at += part.length + 1; // the NUL is already there from Buffer.alloc
  }
  return out;
}

export function encodeRequest(request: Omit<TftpRequest, 'options'> & { readonly options?: readonly TftpOption[] }): Buffer {
  const flat = (request.options ?? []).flatMap(([name, value]) => [name, value]);
  return encodeStrings(request.kind === 'rrq' ? Opcode.RRQ : Opcode.WRQ, [request.filename, request.mode, ...flat]);
}

export function encodeOack(options: readonly TftpOption[]): Buffer {
  return encodeStrings(
    Opcode.OACK,
    options.flatMap(([name, value]) => [name, value]),
  );
}

/** The 4-byte DATA header alone, so a sender can pass header and payload to sendmsg without copying. */
export function encodeDataHeader(block: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  header.writeUInt16BE(Opcode.DATA, 0);
  header.writeUInt16BE(block & 0xffff, 2);
  return header;
}

export function encodeData(block: number, data: Buffer): Buffer {
  return Buffer.concat([encodeDataHeader(block), data]);
}

export function encodeAck(block: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE);
  out.writeUInt16BE(Opcode.ACK, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  return out;
}

export function encodeError(code: ErrorCode | number, message: string): Buffer {
  const text = Buffer.from(message, 'latin1');
  const out = Buffer.alloc(HEADER_SIZE + text.length + 1);
  out.writeUInt16BE(Opcode.ERROR, 0);
  out.writeUInt16BE(code, 2);
  text.copy(out, HEADER_SIZE);
  return out;
}

/** Standard messages for error codes, RFC 1350 appendix. */
export const errorMessages: Readonly<Record<ErrorCode, string>> = {
  [ErrorCode.NOT_DEFINED]: 'Not defined',
  [ErrorCode.FILE_NOT_FOUND]: 'File not found',
  [ErrorCode.ACCESS_VIOLATION]: 'Access violation',
  [ErrorCode.DISK_FULL]: 'Disk full or allocation exceeded',
  [ErrorCode.ILLEGAL_OPERATION]: 'Illegal TFTP operation',
  [ErrorCode.UNKNOWN_TID]: 'Unknown transfer ID',
  [ErrorCode.FILE_EXISTS]: 'File already exists',
  [ErrorCode.NO_SUCH_USER]: 'No such user',
  [ErrorCode.OPTION_REFUSED]: 'Option negotiation refused',
};

/**
 * A file's bytes as netascii (RFC 1350; RFC 764's NVT ASCII): each LF becomes CR LF and each
 * CR becomes CR NUL, as tftp-hpa's server writes them and its client reads them back.
 */
export function toNetascii(data: Uint8Array): Buffer {
  let extra = 0;
  for (const b of data) if (b === 0x0a || b === 0x0d) extra++;
  const out = Buffer.allocUnsafe(data.length + extra);
  let j = 0;
  for (const b of data) {
    if (b === 0x0a) {
      out[j++] = 0x0d;
      out[j++] = 0x0a;
    } else if (b === 0x0d) {
      out[j++] = 0x0d;
      out[j++] = 0x00;
    } else out[j++] = b;
  }
  return out;
}
