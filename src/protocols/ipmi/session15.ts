// IPMI 1.5 session framing over RMCP (IPMI v2.0 §13.6, table 13-8; §22.17.1 authcode):
// RMCP header | authtype | seq(4) | session ID(4) | [authcode(16)] | length | message | [legacy pad].
import { digest, equalBytes } from './digests.ts';
import { ByteReader, u32le } from './bytes.ts';
import { AuthType } from './constants.ts';
import { IpmiAuthenticationError, IpmiDecodeError, IpmiEncodeError } from './errors.ts';
import { RMCP_PLUS_AUTH_TYPE, encodeRmcp } from './rmcp.ts';
import { RmcpClass } from './constants.ts';

/** IPMI 1.5 passwords are 16 bytes, zero padded (IPMI v2.0 §22.30). */
export const SESSION15_PASSWORD_LENGTH = 16;
export const SESSION15_AUTHCODE_LENGTH = 16;

/**
 * Whole-packet lengths after which a legacy pad byte is appended, because some early LAN
 * controllers mishandled them (IPMI v2.0 §13.6, "legacy PAD"; ipmitool lan.c).
 */
export const LEGACY_PAD_LENGTHS: ReadonlySet<number> = new Set([56, 84, 112, 128, 156]);

/** The IPMI 1.5 authentication types this codec computes. MD2 and OEM are not supported. */
export type Session15AuthType = 'none' | 'md5' | 'password';

const authTypeByte: Record<Session15AuthType, number> = { none: AuthType.NONE, md5: AuthType.MD5, password: AuthType.PASSWORD };

export function session15AuthTypeFromByte(byte: number): Session15AuthType | undefined {
  if (byte === AuthType.NONE) return 'none';
  if (byte === AuthType.MD5) return 'md5';
  if (byte === AuthType.PASSWORD) return 'password';
  return undefined;
}

export interface Session15Packet {
  /** The wire authtype byte (0 none, 1 MD2, 2 MD5, 4 password, 5 OEM). */
  readonly authType: number;
  readonly sequence: number;
  readonly sessionId: number;
  /** The 16-byte authcode, absent when authType is none. */
  readonly authCode?: Buffer;
  /** The IPMI message (see message.ts). */
  readonly message: Buffer;
}

/** The password as the 16 zero-padded bytes IPMI 1.5 hashes. */
export function password16(password: Uint8Array | string): Buffer {
  const raw = typeof password === 'string' ? Buffer.from(password, 'utf8') : Buffer.from(password);
  if (raw.length > SESSION15_PASSWORD_LENGTH) throw new IpmiEncodeError(`IPMI 1.5 passwords are at most ${SESSION15_PASSWORD_LENGTH} bytes`);
  const out = Buffer.alloc(SESSION15_PASSWORD_LENGTH);
  raw.copy(out);
  return out;
}

/**
 * The 16-byte authcode of a 1.5 packet (IPMI v2.0 §22.17.1):
 * MD5 = md5(pw16 ‖ session ID ‖ message ‖ session seq ‖ pw16); straight password = pw16.
 */
export function session15AuthCode(
  authType: Session15AuthType,
  password: Uint8Array | string,
  sessionId: number,
  sequence: number,
  message: Uint8Array,
): Buffer {
  const pw = password16(password);
  if (authType === 'password') return pw;
  if (authType === 'md5') return digest('md5', pw, u32le(sessionId), message, u32le(sequence), pw);
  throw new IpmiEncodeError('authtype none has no authcode');
}

export interface Session15Encode {
  readonly authType: Session15AuthType;
  readonly sequence: number;
  readonly sessionId: number;
  readonly message: Uint8Array;
  /** Required for md5 and password. */
  readonly password?: Uint8Array | string;
}

/** Encodes a full datagram (RMCP header included) in IPMI 1.5 framing. */
export function encodeSession15(p: Session15Encode): Buffer {
  if (p.message.length > 0xff) throw new IpmiEncodeError(`IPMI 1.5 message of ${p.message.length} bytes exceeds 255`);
  const head = Buffer.alloc(9);
  head[0] = authTypeByte[p.authType];
  head.writeUInt32LE(p.sequence >>> 0, 1);
  head.writeUInt32LE(p.sessionId >>> 0, 5);
  const parts: Uint8Array[] = [head];
  if (p.authType !== 'none') {
    if (p.password === undefined) throw new IpmiEncodeError(`authtype ${p.authType} needs a password`);
    parts.push(session15AuthCode(p.authType, p.password, p.sessionId, p.sequence, p.message));
  }
  parts.push(Buffer.from([p.message.length]), p.message);
  let packet = encodeRmcp('ipmi', Buffer.concat(parts));
  if (LEGACY_PAD_LENGTHS.has(packet.length)) packet = Buffer.concat([packet, Buffer.alloc(1)]);
  return packet;
}

/** Decodes a full IPMI 1.5 datagram (RMCP header included). Does not check the authcode: see verifySession15. */
export function decodeSession15(packet: Uint8Array): Session15Packet {
  const r = new ByteReader(packet, 'IPMI 1.5 session');
  r.skip(3);
  if ((r.u8() & 0x0f) !== RmcpClass.IPMI) r.fail('not an IPMI-class RMCP packet');
  const authType = r.u8();
  if (authType === RMCP_PLUS_AUTH_TYPE) r.fail('RMCP+ packet, not IPMI 1.5');
  if (authType > AuthType.OEM || authType === 3) r.fail(`invalid authtype 0x${authType.toString(16)}`);
  const sequence = r.u32();
  const sessionId = r.u32();
  const authCode = authType === AuthType.NONE ? undefined : r.bytes(SESSION15_AUTHCODE_LENGTH);
  const length = r.u8();
  const message = r.bytes(length);
  // A trailing legacy pad byte (or any trailer) is tolerated, as BMCs do.
  return authCode === undefined ? { authType, sequence, sessionId, message } : { authType, sequence, sessionId, authCode, message };
}

/** Throws IpmiAuthenticationError unless the packet's authcode matches the password. */
export function verifySession15(p: Session15Packet, password: Uint8Array | string): void {
  const type = session15AuthTypeFromByte(p.authType);
  if (type === undefined) throw new IpmiDecodeError(`unsupported IPMI 1.5 authtype 0x${p.authType.toString(16)}`);
  if (type === 'none') return;
  if (p.authCode === undefined) throw new IpmiAuthenticationError('IPMI 1.5 packet has no authcode');
  const expected = session15AuthCode(type, password, p.sessionId, p.sequence, p.message);
  if (!equalBytes(expected, p.authCode)) throw new IpmiAuthenticationError('IPMI 1.5 authcode does not match (wrong password?)');
}
