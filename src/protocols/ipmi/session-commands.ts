// Data of the commands that set up and tear down sessions and payloads, which both the
// console and the BMC must build and parse (IPMI v2.0 §22.13–§22.19, §24.1–§24.2).
// Each encode/decode pair works on the message data after netfn/cmd (responses: after the
// completion code). Other commands' payloads live in commands/.
import { ByteReader, u16le, u32le } from './bytes.ts';
import { MAX_USER_NAME_LENGTH } from './constants.ts';
import { IpmiEncodeError } from './errors.ts';

/** "This channel": the channel the request arrived on (IPMI v2.0 §6.3). */
export const CURRENT_CHANNEL = 0x0e;
/** Auth-capabilities request bit 7: "get IPMI v2.0+ extended data" (§22.13). */
export const AUTH_CAPS_V2_FLAG = 0x80;
/** Get Channel Cipher Suites request byte 3 bit 7: list algorithms by cipher suite (§22.15). */
export const LIST_BY_CIPHER_SUITE = 0x80;
/** Challenge string length (§22.16). */
export const CHALLENGE_LENGTH = 16;

export interface AuthCapabilitiesRequest {
  readonly channel: number;
  readonly extended: boolean;
  readonly privilege: number;
}

export interface AuthCapabilities {
  readonly channel: number;
  /** Bit mask of AuthType values supported over IPMI 1.5 (bit n = authtype n). */
  readonly authTypes: number;
  readonly extended: boolean;
  readonly kgSet: boolean;
  readonly perMessageAuthDisabled: boolean;
  readonly userLevelAuthDisabled: boolean;
  readonly nonNullUsers: boolean;
  readonly nullUsers: boolean;
  readonly anonymousLogin: boolean;
  readonly ipmi20: boolean;
  readonly ipmi15: boolean;
  readonly oemIana: number;
  readonly oemAux: number;
}

export function encodeAuthCapabilitiesRequest(r: AuthCapabilitiesRequest): Buffer {
  return Buffer.from([(r.channel & 0x0f) | (r.extended ? AUTH_CAPS_V2_FLAG : 0), r.privilege & 0x0f]);
}

export function decodeAuthCapabilitiesRequest(data: Uint8Array): AuthCapabilitiesRequest {
  const r = new ByteReader(data, 'Get Channel Auth Capabilities request');
  const b = r.u8();
  return { channel: b & 0x0f, extended: (b & AUTH_CAPS_V2_FLAG) !== 0, privilege: r.u8() & 0x0f };
}

/** The 8 data bytes of the response (§22.13, table 22-15). */
export function encodeAuthCapabilities(c: AuthCapabilities): Buffer {
  const b3 =
    (c.kgSet ? 0x20 : 0) |
    (c.perMessageAuthDisabled ? 0x10 : 0) |
    (c.userLevelAuthDisabled ? 0x08 : 0) |
    (c.nonNullUsers ? 0x04 : 0) |
    (c.nullUsers ? 0x02 : 0) |
    (c.anonymousLogin ? 0x01 : 0);
  const b4 = c.extended ? (c.ipmi20 ? 0x02 : 0) | (c.ipmi15 ? 0x01 : 0) : 0;
  return Buffer.from([
    c.channel & 0x0f,
    (c.authTypes & 0x3f) | (c.extended ? 0x80 : 0),
    b3,
    b4,
    c.oemIana & 0xff,
    (c.oemIana >> 8) & 0xff,
    (c.oemIana >> 16) & 0xff,
    c.oemAux & 0xff,
  ]);
}

export function decodeAuthCapabilities(data: Uint8Array): AuthCapabilities {
  const r = new ByteReader(data, 'Get Channel Auth Capabilities response');
  const channel = r.u8() & 0x0f;
  const b2 = r.u8();
  const b3 = r.u8();
  const b4 = r.u8();
  const oemIana = r.u8() | (r.u8() << 8) | (r.u8() << 16);
  const oemAux = r.u8();
  const extended = (b2 & 0x80) !== 0;
  return {
    channel,
    authTypes: b2 & 0x3f,
    extended,
    kgSet: (b3 & 0x20) !== 0,
    perMessageAuthDisabled: (b3 & 0x10) !== 0,
    userLevelAuthDisabled: (b3 & 0x08) !== 0,
    nonNullUsers: (b3 & 0x04) !== 0,
    nullUsers: (b3 & 0x02) !== 0,
    anonymousLogin: (b3 & 0x01) !== 0,
    ipmi20: extended && (b4 & 0x02) !== 0,
    ipmi15: !extended || (b4 & 0x01) !== 0,
    oemIana,
    oemAux,
  };
}

export interface CipherSuitesRequest {
  readonly channel: number;
  readonly payloadType: number;
  readonly listIndex: number;
}

export function encodeCipherSuitesRequest(r: CipherSuitesRequest): Buffer {
  return Buffer.from([r.channel & 0x0f, r.payloadType & 0x3f, LIST_BY_CIPHER_SUITE | (r.listIndex & 0x3f)]);
}

export function decodeCipherSuitesRequest(data: Uint8Array): CipherSuitesRequest & { readonly byCipherSuite: boolean } {
  const r = new ByteReader(data, 'Get Channel Cipher Suites request');
  const channel = r.u8() & 0x0f;
  const payloadType = r.u8() & 0x3f;
  const b = r.u8();
  return { channel, payloadType, listIndex: b & 0x3f, byCipherSuite: (b & LIST_BY_CIPHER_SUITE) !== 0 };
}

/** Response data: channel, then up to 16 bytes of the record list (cipher-suites.ts). */
export function encodeCipherSuitesResponse(channel: number, chunk: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([channel & 0x0f]), chunk]);
}

export function decodeCipherSuitesResponse(data: Uint8Array): { readonly channel: number; readonly chunk: Buffer } {
  const r = new ByteReader(data, 'Get Channel Cipher Suites response');
  return { channel: r.u8() & 0x0f, chunk: r.rest() };
}

function userName16(name: Uint8Array): Buffer {
  if (name.length > MAX_USER_NAME_LENGTH) throw new IpmiEncodeError(`user names are at most ${MAX_USER_NAME_LENGTH} bytes`);
  const out = Buffer.alloc(MAX_USER_NAME_LENGTH);
  out.set(name);
  return out;
}

/** A 16-byte zero-padded name field back to the name. */
export function trimName(field: Uint8Array): Buffer {
  let end = field.length;
  while (end > 0 && field[end - 1] === 0) end--;
  return Buffer.from(field.subarray(0, end));
}

export function encodeSessionChallengeRequest(authType: number, userName: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([authType & 0x0f]), userName16(userName)]);
}

export function decodeSessionChallengeRequest(data: Uint8Array): { readonly authType: number; readonly userName: Buffer } {
  const r = new ByteReader(data, 'Get Session Challenge request');
  return { authType: r.u8() & 0x0f, userName: trimName(r.bytes(MAX_USER_NAME_LENGTH)) };
}

export function encodeSessionChallenge(temporarySessionId: number, challenge: Uint8Array): Buffer {
  if (challenge.length !== CHALLENGE_LENGTH) throw new IpmiEncodeError('the challenge must be 16 bytes');
  return Buffer.concat([u32le(temporarySessionId), challenge]);
}

export function decodeSessionChallenge(data: Uint8Array): { readonly temporarySessionId: number; readonly challenge: Buffer } {
  const r = new ByteReader(data, 'Get Session Challenge response');
  return { temporarySessionId: r.u32(), challenge: r.bytes(CHALLENGE_LENGTH) };
}

export interface ActivateSessionRequest {
  readonly authType: number;
  readonly maxPrivilege: number;
  readonly challenge: Buffer;
  readonly initialOutboundSequence: number;
}

export function encodeActivateSessionRequest(a: ActivateSessionRequest): Buffer {
  return Buffer.concat([Buffer.from([a.authType & 0x0f, a.maxPrivilege & 0x0f]), a.challenge, u32le(a.initialOutboundSequence)]);
}

export function decodeActivateSessionRequest(data: Uint8Array): ActivateSessionRequest {
  const r = new ByteReader(data, 'Activate Session request');
  return { authType: r.u8() & 0x0f, maxPrivilege: r.u8() & 0x0f, challenge: r.bytes(CHALLENGE_LENGTH), initialOutboundSequence: r.u32() };
}

export interface ActivateSessionResponse {
  readonly authType: number;
  readonly sessionId: number;
  readonly initialInboundSequence: number;
  readonly maxPrivilege: number;
}

export function encodeActivateSessionResponse(a: ActivateSessionResponse): Buffer {
  return Buffer.concat([Buffer.from([a.authType & 0x0f]), u32le(a.sessionId), u32le(a.initialInboundSequence), Buffer.from([a.maxPrivilege & 0x0f])]);
}

export function decodeActivateSessionResponse(data: Uint8Array): ActivateSessionResponse {
  const r = new ByteReader(data, 'Activate Session response');
  return { authType: r.u8() & 0x0f, sessionId: r.u32(), initialInboundSequence: r.u32(), maxPrivilege: r.u8() & 0x0f };
}

/** Activate/Deactivate Payload request (§24.1, §24.2): type, instance, 4 auxiliary bytes. */
export interface PayloadActivation {
  readonly payloadType: number;
  readonly instance: number;
  readonly aux: Buffer;
}

/** SOL activation aux byte 1 bits (§24.1, table 24-2). */
export const SolActivationAux = { ENCRYPT: 0x80, AUTHENTICATE: 0x40, SERIAL_ALERTS_DEFERRED: 0x04, TEST_MODE: 0x01 } as const;

export function encodePayloadActivation(a: PayloadActivation): Buffer {
  const aux = Buffer.alloc(4);
  a.aux.copy(aux, 0, 0, 4);
  return Buffer.concat([Buffer.from([a.payloadType & 0x3f, a.instance & 0x0f]), aux]);
}

export function decodePayloadActivation(data: Uint8Array): PayloadActivation {
  const r = new ByteReader(data, 'Activate/Deactivate Payload request');
  const payloadType = r.u8() & 0x3f;
  const instance = r.u8() & 0x0f;
  // ipmitool and pyghmi send 4 aux bytes; tolerate fewer.
  const aux = Buffer.alloc(4);
  r.rest().copy(aux, 0, 0, 4);
  return { payloadType, instance, aux };
}

/** Activate Payload response: exactly 12 bytes (§24.1, table 24-2). */
export interface PayloadActivated {
  readonly aux: Buffer;
  readonly inboundPayloadSize: number;
  readonly outboundPayloadSize: number;
  readonly port: number;
  /** 0xFFFF = no VLAN. */
  readonly vlan: number;
}

export const NO_VLAN = 0xffff;

export function encodePayloadActivated(a: PayloadActivated): Buffer {
  const aux = Buffer.alloc(4);
  a.aux.copy(aux, 0, 0, 4);
  return Buffer.concat([aux, u16le(a.inboundPayloadSize), u16le(a.outboundPayloadSize), u16le(a.port), u16le(a.vlan)]);
}

export function decodePayloadActivated(data: Uint8Array): PayloadActivated {
  const r = new ByteReader(data, 'Activate Payload response');
  return { aux: r.bytes(4), inboundPayloadSize: r.u16(), outboundPayloadSize: r.u16(), port: r.u16(), vlan: r.u16() };
}
