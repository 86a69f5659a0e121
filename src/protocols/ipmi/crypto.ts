// The RMCP+ algorithms: RAKP HMACs, session keys K1/K2, integrity check values and
// AES-CBC-128 with the confidentiality pad (IPMI v2.0 §13.28–§13.29). Deterministic:
// the IV is an argument, so the caller owns randomness.
//
// Keys reach node:crypto as KeyObjects: handed a Buffer, createHmac/createCipheriv spend
// ~5× the cost of the operation itself deciding what kind of key it is (Node 24), which
// was a third of a fleet client's CPU. A session builds its KeyObjects once (SessionKeys),
// on first use, and its AES ciphers once (AesCbc128); the password's key is kept for the
// next login with the same password (passwordKey).
import { createCipheriv, createDecipheriv, createHmac, createSecretKey } from 'node:crypto';
import type { Cipheriv, Decipheriv, KeyObject } from 'node:crypto';
import type { AuthAlgorithmId, ConfidentialityAlgorithmId, IntegrityAlgorithmId } from './cipher-suites.ts';
import { AuthAlgorithm, ConfidentialityAlgorithm, IntegrityAlgorithm, MAX_PASSWORD_LENGTH } from './constants.ts';
import { IpmiAuthenticationError, IpmiDecodeError, IpmiEncodeError } from './errors.ts';

/** The constants K1 and K2 are HMACs of: 20 bytes of 0x01 / 0x02 even for SHA-256 (§13.32; ipmitool lanplus_crypt.c). */
export const KEY_CONSTANT_LENGTH = 20;
/** AES-CBC-128 block, IV and key size (§13.29). */
export const AES_BLOCK = 16;

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
let lastPassword: { readonly text: string; readonly key: KeyObject } | undefined;

/**
 * Kuid / Kg (key20) as a KeyObject. A KeyObject costs ~20 µs to make, and RAKP uses the
 * password's three times a login, so the key of the last password given as text is kept
 * (the caller holds that text anyway); bytes are wrapped anew.
 */
export function passwordKey(secret: Uint8Array | string): KeyObject {
  if (typeof secret !== 'string') return createSecretKey(key20(secret));
  if (lastPassword?.text !== secret) lastPassword = { text: secret, key: createSecretKey(key20(secret)) };
  return lastPassword.key;
}

/** A key as node:crypto takes it fastest; bytes are wrapped once here rather than on every use. */
export function secretKey(key: Uint8Array | KeyObject): KeyObject {
  return key instanceof Uint8Array ? createSecretKey(key) : key;
}

export function hmac(hash: 'sha1' | 'md5' | 'sha256', key: Uint8Array | KeyObject, ...parts: Uint8Array[]): Buffer {
  const h = createHmac(hash, secretKey(key));
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Keys of an active RMCP+ session: what encode/decodeSession20 need. */
export interface SessionKeys {
  readonly integrity: IntegrityAlgorithmId;
  readonly confidentiality: ConfidentialityAlgorithmId;
  /** K1, the integrity key (§13.32). */
  readonly k1: Buffer;
  /** K2, whose first 16 bytes are the AES key (§13.29). */
  readonly k2: Buffer;
  /** K1 as a KeyObject, for the per-packet HMAC. */
  readonly integrityKey: KeyObject;
  /** AES-CBC-128 under K2's first 16 bytes, for the payloads. */
  readonly aes: AesCbc128;
}

/** SessionKeys whose KeyObject and ciphers are made when first used: none for a session without integrity or confidentiality. */
class LazySessionKeys implements SessionKeys {
  readonly integrity: IntegrityAlgorithmId;
  readonly confidentiality: ConfidentialityAlgorithmId;
  readonly k1: Buffer;
  readonly k2: Buffer;
  #integrityKey: KeyObject | undefined;
  #aes: AesCbc128 | undefined;

  constructor(integrity: IntegrityAlgorithmId, confidentiality: ConfidentialityAlgorithmId, k1: Buffer, k2: Buffer) {
    this.integrity = integrity;
    this.confidentiality = confidentiality;
    this.k1 = k1;
    this.k2 = k2;
  }

  get integrityKey(): KeyObject {
    this.#integrityKey ??= createSecretKey(this.k1);
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
  sik: Uint8Array | KeyObject,
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

/** The AES-128 key: K2's first 16 bytes, or SessionKeys.aesKey as it is. */
function aesKeyOf(k2: Uint8Array | KeyObject): KeyObject {
  if (!(k2 instanceof Uint8Array)) return k2;
  if (k2.length < AES_BLOCK) throw new IpmiEncodeError('K2 is shorter than an AES-128 key');
  return createSecretKey(k2.subarray(0, AES_BLOCK));
}

/**
 * AES-CBC-128 as RMCP+ uses it (§13.29): IV ‖ AES(payload ‖ 01 02 … n ‖ n) with
 * (payload + n + 1) a multiple of 16. The IV must be 16 random bytes from the caller.
 * The key is K2 (bytes) or the session's aesKey.
 */
export function aesEncrypt(k2: Uint8Array | KeyObject, iv: Uint8Array, payload: Uint8Array): Buffer {
  if (iv.length !== AES_BLOCK) throw new IpmiEncodeError(`AES-CBC-128 needs a ${AES_BLOCK}-byte IV, got ${iv.length}`);
  const key = aesKeyOf(k2);
  const padLength = (AES_BLOCK - ((payload.length + 1) % AES_BLOCK)) % AES_BLOCK;
  const plain = Buffer.alloc(payload.length + padLength + 1);
  plain.set(payload, 0);
  for (let i = 1; i <= padLength; i++) plain[payload.length + i - 1] = i;
  plain[plain.length - 1] = padLength;
  const cipher = createCipheriv('aes-128-cbc', key, iv);
  cipher.setAutoPadding(false);
  return Buffer.concat([iv, cipher.update(plain), cipher.final()]);
}

/** Inverse of aesEncrypt. Throws IpmiDecodeError on a bad length, IpmiAuthenticationError on a bad pad (wrong key). */
export function aesDecrypt(k2: Uint8Array | KeyObject, data: Uint8Array): Buffer {
  if (data.length < 2 * AES_BLOCK || data.length % AES_BLOCK !== 0)
    throw new IpmiDecodeError(`encrypted payload of ${data.length} bytes is not IV + whole AES blocks`);
  const decipher = createDecipheriv('aes-128-cbc', aesKeyOf(k2), data.subarray(0, AES_BLOCK));
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(data.subarray(AES_BLOCK)), decipher.final()]);
  return withoutPad(plain);
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

/**
 * One session's AES-CBC-128 (§13.29), the same bytes as aesEncrypt/aesDecrypt: CBC is chained
 * here over one AES-ECB cipher per direction, made once and kept for the session. A
 * createCipheriv per packet (with its key checks and stream machinery) cost ~25 µs, and
 * a fleet's 200 sessions encrypt and decrypt ~1,200 payloads.
 */
export class AesCbc128 {
  readonly #key: Uint8Array;
  /** K2's first 16 bytes as a KeyObject, made once for both directions. */
  #keyObject: KeyObject | undefined;
  #encrypt: Cipheriv | undefined;
  #decrypt: Decipheriv | undefined;

  /** `k2` is K2: its first 16 bytes are the key. */
  constructor(k2: Uint8Array) {
    this.#key = k2;
  }

  #aesKey(): KeyObject {
    this.#keyObject ??= aesKeyOf(this.#key);
    return this.#keyObject;
  }

  #cipher(): Cipheriv {
    if (this.#encrypt === undefined) {
      this.#encrypt = createCipheriv('aes-128-ecb', this.#aesKey(), null);
      this.#encrypt.setAutoPadding(false);
    }
    return this.#encrypt;
  }

  #decipher(): Decipheriv {
    if (this.#decrypt === undefined) {
      this.#decrypt = createDecipheriv('aes-128-ecb', this.#aesKey(), null);
      this.#decrypt.setAutoPadding(false);
    }
    return this.#decrypt;
  }

  /** IV ‖ AES-CBC(payload ‖ confidentiality pad), as aesEncrypt. The IV must be 16 random bytes from the caller. */
  encrypt(iv: Uint8Array, payload: Uint8Array): Buffer {
    if (iv.length !== AES_BLOCK) throw new IpmiEncodeError(`AES-CBC-128 needs a ${AES_BLOCK}-byte IV, got ${iv.length}`);
    const cipher = this.#cipher();
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
      out.set(cipher.update(out.subarray(at, at + AES_BLOCK)), at);
    }
    return out;
  }

  /** Inverse of encrypt, as aesDecrypt: IpmiDecodeError on a bad length, IpmiAuthenticationError on a bad pad (wrong key). */
  decrypt(data: Uint8Array): Buffer {
    if (data.length < 2 * AES_BLOCK || data.length % AES_BLOCK !== 0)
      throw new IpmiDecodeError(`encrypted payload of ${data.length} bytes is not IV + whole AES blocks`);
    // P[i] = D(C[i]) xor C[i-1]: the blocks decrypt independently, all in one call.
    const plain = this.#decipher().update(data.subarray(AES_BLOCK));
    for (let i = 0; i < plain.length; i++) plain[i]! ^= data[i]!;
    return withoutPad(plain);
  }
}
