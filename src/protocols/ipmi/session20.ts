// RMCP+ (IPMI 2.0) session framing (IPMI v2.0 §13.6, table 13-8; §13.28.4 integrity; §13.29 AES):
// RMCP header | 06 | payload type | [OEM IANA(4) | OEM payload ID(2)] | session ID(4) | seq(4) |
// length(2) | payload | [FF pad | pad length | 07 | AuthCode].
import { equalBytes } from './digests.ts';
import { ByteReader } from './bytes.ts';
import { ConfidentialityAlgorithm, IntegrityAlgorithm, PayloadType, RmcpClass } from './constants.ts';
import type { SessionKeys } from './crypto.ts';
import { integrityCode, integrityCodeLength } from './crypto.ts';
import { IpmiAuthenticationError, IpmiEncodeError } from './errors.ts';
import { RMCP_HEADER_LENGTH, RMCP_PLUS_AUTH_TYPE, writeRmcpHeader } from './rmcp.ts';

/** Payload type byte flags (§13.27.3). */
export const PAYLOAD_ENCRYPTED = 0x80;
export const PAYLOAD_AUTHENTICATED = 0x40;
/** Next Header byte that closes the integrity trailer (§13.6: "07h = RMCP+"). */
export const NEXT_HEADER = 0x07;
/** Integrity pad byte value (§13.28.4). */
export const INTEGRITY_PAD_BYTE = 0xff;

export interface OemPayloadId {
  readonly iana: number;
  readonly payloadId: number;
}

/** The unauthenticated part of an RMCP+ packet: enough to find its session. */
export interface Session20Header {
  /** Payload type, flags removed (PayloadType). */
  readonly payloadType: number;
  readonly encrypted: boolean;
  readonly authenticated: boolean;
  readonly oem?: OemPayloadId;
  /** The receiver's session ID (0 before a session exists). */
  readonly sessionId: number;
  readonly sequence: number;
}

export interface Session20Packet extends Session20Header {
  /** The payload, decrypted. */
  readonly payload: Buffer;
}

export interface Session20Encode {
  readonly payloadType: number;
  readonly sessionId: number;
  readonly sequence: number;
  readonly payload: Uint8Array;
  readonly oem?: OemPayloadId;
}

/**
 * Encodes a full RMCP+ datagram. With keys, the payload is encrypted when the keys'
 * confidentiality is AES (then `iv` must be 16 fresh random bytes) and authenticated when
 * their integrity is not none. Without keys (pre-session), it goes in the clear.
 */
export function encodeSession20(p: Session20Encode, keys?: SessionKeys, iv?: Uint8Array): Buffer {
  const encrypt = keys !== undefined && keys.confidentiality === ConfidentialityAlgorithm.AES_CBC_128;
  const authenticate = keys !== undefined && keys.integrity !== IntegrityAlgorithm.NONE;
  let payload: Uint8Array = p.payload;
  if (encrypt) {
    if (iv === undefined) throw new IpmiEncodeError('an encrypted RMCP+ payload needs a 16-byte random IV');
    payload = keys.aes.encrypt(iv, p.payload);
  }
  if (payload.length > 0xffff) throw new IpmiEncodeError(`RMCP+ payload of ${payload.length} bytes is too long`);
  const oemLength = p.payloadType === PayloadType.OEM_EXPLICIT ? 6 : 0;
  if (oemLength > 0 && p.oem === undefined) throw new IpmiEncodeError('OEM explicit payload needs an IANA number and payload ID');
  // One buffer for the whole datagram: RMCP header | session header | payload | [pad | pad length | 07 | AuthCode].
  const end = RMCP_HEADER_LENGTH + 12 + oemLength + payload.length;
  // The pad makes authtype..next-header a multiple of 4 bytes (§13.28.4).
  const padLength = authenticate ? (4 - ((end - RMCP_HEADER_LENGTH + 2) % 4)) % 4 : 0;
  const trailerEnd = authenticate ? end + padLength + 2 : end;
  const out = Buffer.allocUnsafe(trailerEnd + (authenticate ? integrityCodeLength(keys.integrity) : 0));
  writeRmcpHeader(out, 'ipmi');
  let o = RMCP_HEADER_LENGTH;
  out[o++] = RMCP_PLUS_AUTH_TYPE;
  out[o++] = (p.payloadType & 0x3f) | (encrypt ? PAYLOAD_ENCRYPTED : 0) | (authenticate ? PAYLOAD_AUTHENTICATED : 0);
  if (oemLength > 0 && p.oem !== undefined) {
    out.writeUInt32LE(p.oem.iana >>> 0, o);
    out.writeUInt16LE(p.oem.payloadId & 0xffff, o + 4);
    o += 6;
  }
  out.writeUInt32LE(p.sessionId >>> 0, o);
  out.writeUInt32LE(p.sequence >>> 0, o + 4);
  out.writeUInt16LE(payload.length, o + 8);
  out.set(payload, o + 10);
  if (!authenticate) return out;
  // At most 3 bytes: a loop, not Buffer#fill, whose argument checks cost ~3 µs a packet.
  for (let i = end; i < end + padLength; i++) out[i] = INTEGRITY_PAD_BYTE;
  out[end + padLength] = padLength;
  out[end + padLength + 1] = NEXT_HEADER;
  out.set(integrityCode(keys, out.subarray(RMCP_HEADER_LENGTH, trailerEnd)), trailerEnd);
  return out;
}

interface Parsed extends Session20Header {
  readonly payloadOffset: number;
  readonly payloadLength: number;
}

function parse(packet: Uint8Array): Parsed {
  const r = new ByteReader(packet, 'RMCP+ session');
  r.skip(3);
  if ((r.u8() & 0x0f) !== RmcpClass.IPMI) r.fail('not an IPMI-class RMCP packet');
  if (r.u8() !== RMCP_PLUS_AUTH_TYPE) r.fail('authtype is not RMCP+ (0x06)');
  const typeByte = r.u8();
  const payloadType = typeByte & 0x3f;
  let oem: OemPayloadId | undefined;
  if (payloadType === PayloadType.OEM_EXPLICIT) oem = { iana: r.u32(), payloadId: r.u16() };
  const sessionId = r.u32();
  const sequence = r.u32();
  const payloadLength = r.u16();
  const payloadOffset = r.offset;
  r.skip(payloadLength);
  const header = {
    payloadType,
    encrypted: (typeByte & PAYLOAD_ENCRYPTED) !== 0,
    authenticated: (typeByte & PAYLOAD_AUTHENTICATED) !== 0,
    sessionId,
    sequence,
    payloadOffset,
    payloadLength,
  };
  return oem === undefined ? header : { ...header, oem };
}

/** Reads the header without keys, to find the session a packet belongs to. Throws IpmiDecodeError. */
export function peekSession20(packet: Uint8Array): Session20Header {
  const { payloadOffset: _o, payloadLength: _l, ...header } = parse(packet);
  return header;
}

/**
 * Decodes a full RMCP+ datagram: checks the integrity AuthCode and decrypts when the packet
 * says it is authenticated/encrypted. Throws IpmiDecodeError on malformed bytes and
 * IpmiAuthenticationError when the AuthCode does not verify or keys are missing. Whether
 * an unauthenticated packet is acceptable in a session is the caller's policy: check
 * `authenticated`/`encrypted` against the session's suite.
 */
export function decodeSession20(packet: Uint8Array, keys?: SessionKeys): Session20Packet {
  const { payloadOffset, payloadLength, payloadType, encrypted, authenticated, oem, sessionId, sequence } = parse(packet);
  if (authenticated) {
    if (keys === undefined || keys.integrity === IntegrityAlgorithm.NONE)
      throw new IpmiAuthenticationError('authenticated RMCP+ packet but the session has no integrity key');
    const codeLength = integrityCodeLength(keys.integrity);
    const trailerEnd = packet.length - codeLength;
    const end = payloadOffset + payloadLength;
    // Trailer: pad (0..3 bytes) | pad length | next header, then the AuthCode.
    if (trailerEnd < end + 2) throw new IpmiAuthenticationError('RMCP+ integrity trailer is truncated');
    const padLength = packet[trailerEnd - 2] as number;
    if (end + padLength + 2 !== trailerEnd || packet[trailerEnd - 1] !== NEXT_HEADER) throw new IpmiAuthenticationError('RMCP+ integrity trailer is malformed');
    const expected = integrityCode(keys, packet.subarray(RMCP_HEADER_LENGTH, trailerEnd));
    if (!equalBytes(expected, packet.subarray(trailerEnd))) throw new IpmiAuthenticationError('RMCP+ integrity check value does not match');
  }
  const raw = packet.subarray(payloadOffset, payloadOffset + payloadLength);
  let payload: Buffer;
  if (encrypted) {
    if (keys === undefined || keys.confidentiality !== ConfidentialityAlgorithm.AES_CBC_128)
      throw new IpmiAuthenticationError('encrypted RMCP+ packet but the session has no confidentiality key');
    payload = keys.aes.decrypt(raw); // a new buffer: no copy of the ciphertext first
  } else {
    payload = Buffer.from(raw);
  }
  const header = { payloadType, encrypted, authenticated, sessionId, sequence, payload };
  return oem === undefined ? header : { ...header, oem };
}
