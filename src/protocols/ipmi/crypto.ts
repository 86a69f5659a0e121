// The RMCP+ algorithms: RAKP HMACs, session keys K1/K2, integrity check values and
// AES-CBC-128 with the confidentiality pad (IPMI v2.0 §13.28–§13.29). Deterministic:
// the IV is an argument, so the caller owns randomness.
//
// The hashes, HMAC and AES are this folder's own (digests.ts, aes.ts), not node:crypto's, whose
// loading alone was a tenth of a one-BMC `anvil ipmi` run. Keys are kept in their prepared form:
// a session builds its HmacKeys and its AES key schedule once, on first use (SessionKeys), and
// the password's HmacKey is kept for the next login with the same password (passwordKey).
import { Aes128, AES_BLOCK } from './aes.ts';
import { HmacKey, hmac } from './digests.ts';
import type { AuthAlgorithmId, ConfidentialityAlgorithmId, IntegrityAlgorithmId } from './cipher-suites.ts';
import { AuthAlgorithm, ConfidentialityAlgorithm, IntegrityAlgorithm, MAX_PASSWORD_LENGTH } from './constants.ts';
import { IpmiAuthenticationError, IpmiDecodeError, IpmiEncodeError } from './errors.ts';

/** The constants K1 and K2 are HMACs of: 20 bytes of 0x01 / 0x02 even for SHA-256 (§13.32; ipmitool lanplus_crypt.c). */
export const KEY_CONSTANT_LENGTH = 20;
/** AES-CBC-128 block, IV and key size (§13.29). */
export { AES_BLOCK };

/** The digest behind an RAKP authentication algorithm, or undefined for RAKP-none. */
export function authHash(auth: AuthAlgorithmId): 'sha1' | 'md5' | 'sha256' | undefined {
  if (auth === AuthAlgorithm.HMAC_SHA1) return 'sha1';
  if (auth === AuthAlgorithm.HMAC_MD5) return 'md5';
  if (auth === AuthAlgorithm.HMAC_SHA256) return 'sha256';
  return undefined;
}

/** Length of the RAKP2/RAKP3 key exchange auth code (full HMAC) for an algorithm (§13.31, §13.32). */
export function rakpAuthCodeLength(auth: AuthAlgorithmId): number {
  return auth === AuthAlgorithm.HMAC_SHA1 ? 20 : auth === AuthAlgorithm.HMAC_MD5 ? 16 : auth === AuthAlgorithm.HMAC_SHA256 ? 32 : 0;
}

/** Length of the RAKP4 integrity check value: HMAC-SHA1-96 12, HMAC-MD5 16, HMAC-SHA256-128 16 (§13.31, §13.28.1). */
export function rakp4IcvLength(auth: AuthAlgorithmId): number {
  return auth === AuthAlgorithm.HMAC_SHA1 ? 12 : auth === AuthAlgorithm.HMAC_MD5 ? 16 : auth === AuthAlgorithm.HMAC_SHA256 ? 16 : 0;
}

/** Length of a packet's integrity AuthCode (§13.28.4). */
export function integrityCodeLength(integrity: IntegrityAlgorithmId): number {
  if (integrity === IntegrityAlgorithm.HMAC_SHA1_96) return 12;
  if (integrity === IntegrityAlgorithm.HMAC_MD5_128 || integrity === IntegrityAlgorithm.HMAC_SHA256_128) return 16;
  return 0;
}

/** Whether this codec implements the algorithm (MD5-128 integrity and xRC4 are not). */
export function supportsAuth(a: number): a is AuthAlgorithmId {
  return a === AuthAlgorithm.NONE || authHash(a as AuthAlgorithmId) !== undefined;
}
export function supportsIntegrity(a: number): a is IntegrityAlgorithmId {
  return (
    a === IntegrityAlgorithm.NONE || a === IntegrityAlgorithm.HMAC_SHA1_96 || a === IntegrityAlgorithm.HMAC_MD5_128 || a === IntegrityAlgorithm.HMAC_SHA256_128
  );
}
export function supportsConfidentiality(a: number): a is ConfidentialityAlgorithmId {
  return a === ConfidentialityAlgorithm.NONE || a === ConfidentialityAlgorithm.AES_CBC_128;
}

/** Kuid / Kg: the password as the 20-byte zero-padded key (§13.31). Zero-padding does not change an HMAC. */
export function key20(secret: Uint8Array | string): Buffer {
  const raw = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (raw.length > MAX_PASSWORD_LENGTH) throw new IpmiEncodeError(`IPMI passwords and Kg are at most ${MAX_PASSWORD_LENGTH} bytes`);
  const out = Buffer.alloc(MAX_PASSWORD_LENGTH);
  raw.copy(out);
  return out;
}

/** The last password given as text, and its key: a fleet logs in to every BMC with the same one. */
let lastPassword: { readonly text: string; readonly key: HmacKey } | undefined;

/**
 * Kuid / Kg (key20) as an HmacKey. RAKP uses the password's three times a login, and a key's
 * pad states are computed at its first use with each digest, so the key of the last password
 * given as text is kept (the caller holds that text anyway); bytes get a new key.
 */
export function passwordKey(secret: Uint8Array | string): HmacKey {
  if (typeof secret !== 'string') return new HmacKey(key20(secret));
  if (lastPassword?.text !== secret) lastPassword = { text: secret, key: new HmacKey(key20(secret)) };
  return lastPassword.key;
}

/** A key prepared for repeated HMACs; bytes are wrapped once here rather than on every use. */
export function secretKey(key: Uint8Array | HmacKey): HmacKey {
  return key instanceof HmacKey ? key : new HmacKey(key);
}

/** HMAC of the parts under bytes or a kept HmacKey (digests.ts), for RAKP and the session keys. */
export { hmac };

/** Keys of an active RMCP+ session: what encode/decodeSession20 need. */
export interface SessionKeys {
  readonly integrity: IntegrityAlgorithmId;
  readonly confidentiality: ConfidentialityAlgorithmId;
  /** K1, the integrity key (§13.32). */
  readonly k1: Buffer;
  /** K2, whose first 16 bytes are the AES key (§13.29). */
  readonly k2: Buffer;
  /** K1 prepared for the per-packet HMAC. */
  readonly integrityKey: HmacKey;
  /** AES-CBC-128 under K2's first 16 bytes, for the payloads. */
  readonly aes: AesCbc128;
}

/** SessionKeys whose HmacKey and AES key schedule are made when first used: none for a session without integrity or confidentiality. */
class LazySessionKeys implements SessionKeys {
  readonly integrity: IntegrityAlgorithmId;
  readonly confidentiality: ConfidentialityAlgorithmId;
  readonly k1: Buffer;
  readonly k2: Buffer;
  #integrityKey: HmacKey | undefined;
  #aes: AesCbc128 | undefined;

  constructor(integrity: IntegrityAlgorithmId, confidentiality: ConfidentialityAlgorithmId, k1: Buffer, k2: Buffer) {
    this.integrity = integrity;
    this.confidentiality = confidentiality;
    this.k1 = k1;
    this.k2 = k2;
  }

  get integrityKey(): HmacKey {
    this.#integrityKey ??= new HmacKey(this.k1);
    return this.#integrityKey;
  }

  get aes(): AesCbc128 {
    this.#aes ??= new AesCbc128(this.k2);
    return this.#aes;
  }
}

/** Builds SessionKeys from K1 and K2; each key is wrapped once, when first used. */
export function sessionKeys(integrity: IntegrityAlgorithmId, confidentiality: ConfidentialityAlgorithmId, k1: Buffer, k2: Buffer): SessionKeys {
  return new LazySessionKeys(integrity, confidentiality, k1, k2);
}

/** No integrity, no confidentiality: cipher suite 0/1, and every pre-session packet. */
export const NO_SESSION_KEYS: SessionKeys = sessionKeys(IntegrityAlgorithm.NONE, ConfidentialityAlgorithm.NONE, Buffer.alloc(0), Buffer.alloc(0));

/** K1 = HMAC_SIK(0x01×20), K2 = HMAC_SIK(0x02×20) with the authentication algorithm's hash (§13.32). */
export function deriveSessionKeys(
  auth: AuthAlgorithmId,
  sik: Uint8Array | HmacKey,
  integrity: IntegrityAlgorithmId,
  confidentiality: ConfidentialityAlgorithmId,
): SessionKeys {
  const hash = authHash(auth);
  if (hash === undefined) {
    if (integrity !== IntegrityAlgorithm.NONE || confidentiality !== ConfidentialityAlgorithm.NONE) {
      throw new IpmiEncodeError('integrity and confidentiality need an authentication algorithm to derive keys');
    }
    return NO_SESSION_KEYS;
  }
  const sikKey = secretKey(sik);
  return sessionKeys(integrity, confidentiality, hmac(hash, sikKey, KEY_CONSTANT_1), hmac(hash, sikKey, KEY_CONSTANT_2));
}
const KEY_CONSTANT_1 = Buffer.alloc(KEY_CONSTANT_LENGTH, 0x01);
const KEY_CONSTANT_2 = Buffer.alloc(KEY_CONSTANT_LENGTH, 0x02);

/** The integrity AuthCode over authtype..next-header (§13.28.4), truncated to the algorithm's length. */
export function integrityCode(keys: SessionKeys, data: Uint8Array): Buffer {
  switch (keys.integrity) {
    case IntegrityAlgorithm.HMAC_SHA1_96:
      return hmac('sha1', keys.integrityKey, data).subarray(0, 12);
    case IntegrityAlgorithm.HMAC_MD5_128:
      return hmac('md5', keys.integrityKey, data);
    case IntegrityAlgorithm.HMAC_SHA256_128:
      return hmac('sha256', keys.integrityKey, data).subarray(0, 16);
    default:
      throw new IpmiEncodeError(`integrity algorithm ${keys.integrity} is not supported`);
  }
}

/**
 * AES-CBC-128 as RMCP+ uses it (§13.29): IV ‖ AES(payload ‖ 01 02 … n ‖ n) with
 * (payload + n + 1) a multiple of 16. The IV must be 16 random bytes from the caller.
 * One-shot, under K2; a session keeps an AesCbc128 instead.
 */
export function aesEncrypt(k2: Uint8Array, iv: Uint8Array, payload: Uint8Array): Buffer {
  return new AesCbc128(k2).encrypt(iv, payload);
}

/** Inverse of aesEncrypt. Throws IpmiDecodeError on a bad length, IpmiAuthenticationError on a bad pad (wrong key). */
export function aesDecrypt(k2: Uint8Array, data: Uint8Array): Buffer {
  return new AesCbc128(k2).decrypt(data);
}

/** The payload of decrypted blocks without its confidentiality pad (1, 2, …, n, then n); IpmiAuthenticationError when the pad is not one. */
function withoutPad(plain: Buffer): Buffer {
  const padLength = plain[plain.length - 1] as number;
  if (padLength >= AES_BLOCK || padLength + 1 > plain.length)
    throw new IpmiAuthenticationError('AES confidentiality pad is invalid (wrong key or corrupted payload)');
  for (let i = 1; i <= padLength; i++) {
    if (plain[plain.length - 1 - padLength + i - 1] !== i)
      throw new IpmiAuthenticationError('AES confidentiality pad is invalid (wrong key or corrupted payload)');
  }
  return plain.subarray(0, plain.length - 1 - padLength);
}

/** One session's AES-CBC-128 (§13.29) under K2's first 16 bytes, its key schedule made once (at the first packet). */
export class AesCbc128 {
  readonly #k2: Uint8Array;
  #aes: Aes128 | undefined;

  /** `k2` is K2: its first 16 bytes are the key. */
  constructor(k2: Uint8Array) {
    if (k2.length < AES_BLOCK) throw new IpmiEncodeError('K2 is shorter than an AES-128 key');
    this.#k2 = k2;
  }

  #cipher(): Aes128 {
    this.#aes ??= new Aes128(this.#k2.subarray(0, AES_BLOCK));
    return this.#aes;
  }

  /** IV ‖ AES-CBC(payload ‖ confidentiality pad). The IV must be 16 random bytes from the caller. */
  encrypt(iv: Uint8Array, payload: Uint8Array): Buffer {
    if (iv.length !== AES_BLOCK) throw new IpmiEncodeError(`AES-CBC-128 needs a ${AES_BLOCK}-byte IV, got ${iv.length}`);
    const aes = this.#cipher();
    const padLength = (AES_BLOCK - ((payload.length + 1) % AES_BLOCK)) % AES_BLOCK;
    // Every byte is written below (IV, payload, pad, pad length): no zero-fill, and a pooled buffer.
    const out = Buffer.allocUnsafe(AES_BLOCK + payload.length + padLength + 1);
    out.set(iv, 0);
    out.set(payload, AES_BLOCK);
    for (let i = 1; i <= padLength; i++) out[AES_BLOCK + payload.length + i - 1] = i;
    out[out.length - 1] = padLength;
    // C[i] = E(P[i] xor C[i-1]), C[0] the IV: each block is xored with the one before it, in place.
    for (let at = AES_BLOCK; at < out.length; at += AES_BLOCK) {
      for (let j = 0; j < AES_BLOCK; j++) out[at + j]! ^= out[at - AES_BLOCK + j]!;
      aes.encryptBlock(out, at, out, at);
    }
    return out;
  }

  /** Inverse of encrypt: IpmiDecodeError on a bad length, IpmiAuthenticationError on a bad pad (wrong key). */
  decrypt(data: Uint8Array): Buffer {
    if (data.length < 2 * AES_BLOCK || data.length % AES_BLOCK !== 0)
      throw new IpmiDecodeError(`encrypted payload of ${data.length} bytes is not IV + whole AES blocks`);
    const aes = this.#cipher();
    // P[i] = D(C[i]) xor C[i-1], into a new buffer: the ciphertext is left as it was.
    const plain = Buffer.allocUnsafe(data.length - AES_BLOCK);
    for (let at = 0; at < plain.length; at += AES_BLOCK) {
      aes.decryptBlock(data, at + AES_BLOCK, plain, at);
      for (let j = 0; j < AES_BLOCK; j++) plain[at + j]! ^= data[at + j]!;
    }
    return withoutPad(plain);
  }
}
