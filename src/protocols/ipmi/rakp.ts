// RMCP+ session establishment: Open Session Request/Response and RAKP messages 1–4
// (IPMI v2.0 §13.17–§13.23), and the key-exchange math of RAKP-HMAC-* (§13.31, §13.32).
// Both sides build and parse every message, so client and BMC emulator share this file.
import { equalBytes } from './digests.ts';
import type { HmacKey } from './digests.ts';
import { ByteReader, u32le } from './bytes.ts';
import type { AuthAlgorithmId } from './cipher-suites.ts';
import { MAX_USER_NAME_LENGTH } from './constants.ts';
import { authHash, hmac, passwordKey, rakp4IcvLength } from './crypto.ts';
import { IpmiAuthenticationError, IpmiEncodeError } from './errors.ts';

/** Algorithm payload types inside the Open Session messages (§13.17, table 13-9). */
export const AlgorithmPayload = { AUTH: 0x00, INTEGRITY: 0x01, CONFIDENTIALITY: 0x02 } as const;
/** Length of each algorithm payload (§13.17). */
export const ALGORITHM_PAYLOAD_LENGTH = 8;
/** Random numbers Rm and Rc are 16 bytes; the BMC GUID too (§13.20, §13.21). */
export const RAKP_RANDOM_LENGTH = 16;
export const GUID_LENGTH = 16;
/** RAKP1 role bit: look the user up by name only, not by name and privilege (§13.20). */
export const ROLE_NAME_ONLY_LOOKUP = 0x10;
/** RAKP1 role bits 3:0: the requested maximum privilege. */
export const ROLE_PRIVILEGE_MASK = 0x0f;

export interface OpenSessionRequest {
  readonly tag: number;
  /** Requested maximum privilege; 0 = the highest the user may have (§13.17). */
  readonly requestedMaxPrivilege: number;
  readonly consoleSessionId: number;
  /** undefined = an empty (length 0) algorithm payload: "BMC, pick one" (§13.17). */
  readonly auth: number | undefined;
  readonly integrity: number | undefined;
  readonly confidentiality: number | undefined;
}

export interface OpenSessionResponse {
  readonly tag: number;
  /** RmcpPlusStatus; when not 0, the fields after consoleSessionId may be absent (0). */
  readonly status: number;
  readonly maxPrivilege: number;
  readonly consoleSessionId: number;
  readonly bmcSessionId: number;
  readonly auth: number;
  readonly integrity: number;
  readonly confidentiality: number;
}

export interface Rakp1 {
  readonly tag: number;
  readonly bmcSessionId: number;
  /** Rm, 16 random bytes from the console. */
  readonly consoleRandom: Buffer;
  /** The whole role byte (privilege | 0x10 name-only lookup); it enters the HMACs as sent. */
  readonly role: number;
  readonly userName: Buffer;
}

export interface Rakp2 {
  readonly tag: number;
  readonly status: number;
  readonly consoleSessionId: number;
  /** Rc, 16 random bytes from the BMC (zero-length fields when status is not 0). */
  readonly bmcRandom: Buffer;
  readonly bmcGuid: Buffer;
  readonly keyExchangeAuthCode: Buffer;
}

export interface Rakp3 {
  readonly tag: number;
  readonly status: number;
  readonly bmcSessionId: number;
  readonly keyExchangeAuthCode: Buffer;
}

export interface Rakp4 {
  readonly tag: number;
  readonly status: number;
  readonly consoleSessionId: number;
  readonly integrityCheckValue: Buffer;
}

function algorithmPayload(type: number, algorithm: number | undefined): Buffer {
  if (algorithm === undefined) return Buffer.from([type, 0, 0, 0, 0, 0, 0, 0]);
  return Buffer.from([type, 0, 0, ALGORITHM_PAYLOAD_LENGTH, algorithm & 0x3f, 0, 0, 0]);
}

function readAlgorithmPayload(r: ByteReader, type: number): number | undefined {
  const t = r.u8();
  r.skip(2);
  const length = r.u8();
  if (t !== type) r.fail(`expected algorithm payload type ${type}, got ${t}`);
  if (length === 0) {
    // Some consoles send a 4-byte empty payload; ipmitool always sends 8.
    if (r.remaining >= 4) r.skip(4);
    return undefined;
  }
  if (length !== ALGORITHM_PAYLOAD_LENGTH) r.fail(`algorithm payload length ${length} is not 8`);
  const algorithm = r.u8() & 0x3f;
  r.skip(3);
  return algorithm;
}

export function encodeOpenSessionRequest(m: OpenSessionRequest): Buffer {
  const head = Buffer.alloc(8);
  head[0] = m.tag & 0xff;
  head[1] = m.requestedMaxPrivilege & 0x0f;
  head.writeUInt32LE(m.consoleSessionId >>> 0, 4);
  return Buffer.concat([
    head,
    algorithmPayload(AlgorithmPayload.AUTH, m.auth),
    algorithmPayload(AlgorithmPayload.INTEGRITY, m.integrity),
    algorithmPayload(AlgorithmPayload.CONFIDENTIALITY, m.confidentiality),
  ]);
}

export function decodeOpenSessionRequest(payload: Uint8Array): OpenSessionRequest {
  const r = new ByteReader(payload, 'Open Session Request');
  const tag = r.u8();
  const requestedMaxPrivilege = r.u8() & 0x0f;
  r.skip(2);
  const consoleSessionId = r.u32();
  const auth = readAlgorithmPayload(r, AlgorithmPayload.AUTH);
  const integrity = readAlgorithmPayload(r, AlgorithmPayload.INTEGRITY);
  const confidentiality = readAlgorithmPayload(r, AlgorithmPayload.CONFIDENTIALITY);
  return { tag, requestedMaxPrivilege, consoleSessionId, auth, integrity, confidentiality };
}

/** Encodes the response; with a non-zero status only the first 8 bytes are sent (§13.18). */
export function encodeOpenSessionResponse(m: OpenSessionResponse): Buffer {
  const head = Buffer.alloc(8);
  head[0] = m.tag & 0xff;
  head[1] = m.status & 0xff;
  head[2] = m.maxPrivilege & 0x0f;
  head.writeUInt32LE(m.consoleSessionId >>> 0, 4);
  if (m.status !== 0) return head;
  return Buffer.concat([
    head,
    u32le(m.bmcSessionId),
    algorithmPayload(AlgorithmPayload.AUTH, m.auth),
    algorithmPayload(AlgorithmPayload.INTEGRITY, m.integrity),
    algorithmPayload(AlgorithmPayload.CONFIDENTIALITY, m.confidentiality),
  ]);
}

export function decodeOpenSessionResponse(payload: Uint8Array): OpenSessionResponse {
  const r = new ByteReader(payload, 'Open Session Response');
  const tag = r.u8();
  const status = r.u8();
  const maxPrivilege = r.u8() & 0x0f;
  r.u8();
  const consoleSessionId = r.u32();
  if (status !== 0 && r.remaining < 28) return { tag, status, maxPrivilege, consoleSessionId, bmcSessionId: 0, auth: 0, integrity: 0, confidentiality: 0 };
  const bmcSessionId = r.u32();
  const auth = readAlgorithmPayload(r, AlgorithmPayload.AUTH) ?? 0;
  const integrity = readAlgorithmPayload(r, AlgorithmPayload.INTEGRITY) ?? 0;
  const confidentiality = readAlgorithmPayload(r, AlgorithmPayload.CONFIDENTIALITY) ?? 0;
  return { tag, status, maxPrivilege, consoleSessionId, bmcSessionId, auth, integrity, confidentiality };
}

function checkRandom(name: string, b: Uint8Array): void {
  if (b.length !== RAKP_RANDOM_LENGTH) throw new IpmiEncodeError(`${name} must be ${RAKP_RANDOM_LENGTH} bytes`);
}

export function encodeRakp1(m: Rakp1): Buffer {
  checkRandom('Rm', m.consoleRandom);
  if (m.userName.length > MAX_USER_NAME_LENGTH) throw new IpmiEncodeError(`user names are at most ${MAX_USER_NAME_LENGTH} bytes`);
  const head = Buffer.alloc(8);
  head[0] = m.tag & 0xff;
  head.writeUInt32LE(m.bmcSessionId >>> 0, 4);
  return Buffer.concat([head, m.consoleRandom, Buffer.from([m.role & 0xff, 0, 0, m.userName.length]), m.userName]);
}

export function decodeRakp1(payload: Uint8Array): Rakp1 {
  const r = new ByteReader(payload, 'RAKP Message 1');
  const tag = r.u8();
  r.skip(3);
  const bmcSessionId = r.u32();
  const consoleRandom = r.bytes(RAKP_RANDOM_LENGTH);
  const role = r.u8();
  r.skip(2);
  const length = r.u8();
  if (length > MAX_USER_NAME_LENGTH) r.fail(`user name length ${length} exceeds ${MAX_USER_NAME_LENGTH}`);
  return { tag, bmcSessionId, consoleRandom, role, userName: r.bytes(length) };
}

export function encodeRakp2(m: Rakp2): Buffer {
  const head = Buffer.alloc(8);
  head[0] = m.tag & 0xff;
  head[1] = m.status & 0xff;
  head.writeUInt32LE(m.consoleSessionId >>> 0, 4);
  if (m.status !== 0) return head;
  checkRandom('Rc', m.bmcRandom);
  if (m.bmcGuid.length !== GUID_LENGTH) throw new IpmiEncodeError('the BMC GUID must be 16 bytes');
  return Buffer.concat([head, m.bmcRandom, m.bmcGuid, m.keyExchangeAuthCode]);
}

export function decodeRakp2(payload: Uint8Array): Rakp2 {
  const r = new ByteReader(payload, 'RAKP Message 2');
  const tag = r.u8();
  const status = r.u8();
  r.skip(2);
  const consoleSessionId = r.u32();
  if (status !== 0 && r.remaining === 0)
    return { tag, status, consoleSessionId, bmcRandom: Buffer.alloc(0), bmcGuid: Buffer.alloc(0), keyExchangeAuthCode: Buffer.alloc(0) };
  return { tag, status, consoleSessionId, bmcRandom: r.bytes(RAKP_RANDOM_LENGTH), bmcGuid: r.bytes(GUID_LENGTH), keyExchangeAuthCode: r.rest() };
}

export function encodeRakp3(m: Rakp3): Buffer {
  const head = Buffer.alloc(8);
  head[0] = m.tag & 0xff;
  head[1] = m.status & 0xff;
  head.writeUInt32LE(m.bmcSessionId >>> 0, 4);
  return Buffer.concat([head, m.keyExchangeAuthCode]);
}

export function decodeRakp3(payload: Uint8Array): Rakp3 {
  const r = new ByteReader(payload, 'RAKP Message 3');
  const tag = r.u8();
  const status = r.u8();
  r.skip(2);
  return { tag, status, bmcSessionId: r.u32(), keyExchangeAuthCode: r.rest() };
}

export function encodeRakp4(m: Rakp4): Buffer {
  const head = Buffer.alloc(8);
  head[0] = m.tag & 0xff;
  head[1] = m.status & 0xff;
  head.writeUInt32LE(m.consoleSessionId >>> 0, 4);
  return Buffer.concat([head, m.integrityCheckValue]);
}

export function decodeRakp4(payload: Uint8Array): Rakp4 {
  const r = new ByteReader(payload, 'RAKP Message 4');
  const tag = r.u8();
  const status = r.u8();
  r.skip(2);
  return { tag, status, consoleSessionId: r.u32(), integrityCheckValue: r.rest() };
}

/** Everything both sides know after RAKP2: the inputs of every HMAC of the exchange. */
export interface RakpExchange {
  readonly auth: AuthAlgorithmId;
  readonly consoleSessionId: number;
  readonly bmcSessionId: number;
  readonly consoleRandom: Uint8Array;
  readonly bmcRandom: Uint8Array;
  readonly bmcGuid: Uint8Array;
  /** The role byte exactly as sent in RAKP1. */
  readonly role: number;
  readonly userName: Uint8Array;
}

function nameBlock(x: RakpExchange): Buffer {
  return Buffer.concat([Buffer.from([x.role & 0xff, x.userName.length]), x.userName]);
}

/** RAKP2 auth code = HMAC_Kuid(SIDm ‖ SIDc ‖ Rm ‖ Rc ‖ GUIDc ‖ ROLEm ‖ ULENm ‖ UNAMEm) (§13.31). Empty for RAKP-none. */
export function rakp2AuthCode(x: RakpExchange, password: Uint8Array | string): Buffer {
  const hash = authHash(x.auth);
  if (hash === undefined) return Buffer.alloc(0);
  return hmac(hash, passwordKey(password), u32le(x.consoleSessionId), u32le(x.bmcSessionId), x.consoleRandom, x.bmcRandom, x.bmcGuid, nameBlock(x));
}

/** RAKP3 auth code = HMAC_Kuid(Rc ‖ SIDm ‖ ROLEm ‖ ULENm ‖ UNAMEm) (§13.31). */
export function rakp3AuthCode(x: RakpExchange, password: Uint8Array | string): Buffer {
  const hash = authHash(x.auth);
  if (hash === undefined) return Buffer.alloc(0);
  return hmac(hash, passwordKey(password), x.bmcRandom, u32le(x.consoleSessionId), nameBlock(x));
}

/** SIK = HMAC_Kg(Rm ‖ Rc ‖ ROLEm ‖ ULENm ‖ UNAMEm); Kg defaults to the user's password (§13.31). */
export function sessionIntegrityKey(x: RakpExchange, password: Uint8Array | string, kg?: Uint8Array | string): Buffer {
  const hash = authHash(x.auth);
  if (hash === undefined) return Buffer.alloc(0);
  const key = kg !== undefined && kg.length > 0 ? passwordKey(kg) : passwordKey(password);
  return hmac(hash, key, x.consoleRandom, x.bmcRandom, nameBlock(x));
}

/** RAKP4 ICV = HMAC_SIK(Rm ‖ SIDc ‖ GUIDc), truncated to 12 (SHA1) or 16 (MD5, SHA256) bytes (§13.31). */
export function rakp4IntegrityCheckValue(x: RakpExchange, sik: Uint8Array | HmacKey): Buffer {
  const hash = authHash(x.auth);
  if (hash === undefined) return Buffer.alloc(0);
  return hmac(hash, sik, x.consoleRandom, u32le(x.bmcSessionId), x.bmcGuid).subarray(0, rakp4IcvLength(x.auth));
}

function check(expected: Buffer, got: Uint8Array, what: string): void {
  if (!equalBytes(expected, got)) throw new IpmiAuthenticationError(`${what} does not match (wrong user name, password or Kg?)`);
}

/** Console side: throws IpmiAuthenticationError unless RAKP2's auth code proves the BMC knows the password. */
export function verifyRakp2(x: RakpExchange, password: Uint8Array | string, code: Uint8Array): void {
  check(rakp2AuthCode(x, password), code, 'RAKP2 key exchange auth code');
}

/** BMC side: throws IpmiAuthenticationError unless RAKP3 proves the console knows the password. */
export function verifyRakp3(x: RakpExchange, password: Uint8Array | string, code: Uint8Array): void {
  check(rakp3AuthCode(x, password), code, 'RAKP3 key exchange auth code');
}

/** Console side: throws IpmiAuthenticationError unless RAKP4's ICV matches the SIK. */
export function verifyRakp4(x: RakpExchange, sik: Uint8Array | HmacKey, icv: Uint8Array): void {
  check(rakp4IntegrityCheckValue(x, sik), icv, 'RAKP4 integrity check value');
}
