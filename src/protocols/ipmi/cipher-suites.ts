// RMCP+ cipher suites: the standard suite table (IPMI v2.0 §22.15.2, table 22-20) and the
// record list carried by Get Channel Cipher Suites (§22.15, table 22-19).
import { ByteReader } from './bytes.ts';
import { AuthAlgorithm, ConfidentialityAlgorithm, IntegrityAlgorithm } from './constants.ts';

export type AuthAlgorithmId = (typeof AuthAlgorithm)[keyof typeof AuthAlgorithm];
export type IntegrityAlgorithmId = (typeof IntegrityAlgorithm)[keyof typeof IntegrityAlgorithm];
export type ConfidentialityAlgorithmId = (typeof ConfidentialityAlgorithm)[keyof typeof ConfidentialityAlgorithm];

/** One cipher suite: the three algorithms an RMCP+ session runs with. */
export interface CipherSuite {
  readonly id: number;
  readonly auth: AuthAlgorithmId;
  readonly integrity: IntegrityAlgorithmId;
  readonly confidentiality: ConfidentialityAlgorithmId;
}

const A = AuthAlgorithm;
const I = IntegrityAlgorithm;
const C = ConfidentialityAlgorithm;

/** The standard suites this library can run (table 22-20). 3 is the common default, 17 ipmitool's preference. */
export const CIPHER_SUITES: ReadonlyMap<number, CipherSuite> = new Map(
  (
    [
      [0, A.NONE, I.NONE, C.NONE],
      [1, A.HMAC_SHA1, I.NONE, C.NONE],
      [2, A.HMAC_SHA1, I.HMAC_SHA1_96, C.NONE],
      [3, A.HMAC_SHA1, I.HMAC_SHA1_96, C.AES_CBC_128],
      [6, A.HMAC_MD5, I.NONE, C.NONE],
      [7, A.HMAC_MD5, I.HMAC_MD5_128, C.NONE],
      [8, A.HMAC_MD5, I.HMAC_MD5_128, C.AES_CBC_128],
      [15, A.HMAC_SHA256, I.NONE, C.NONE],
      [16, A.HMAC_SHA256, I.HMAC_SHA256_128, C.NONE],
      [17, A.HMAC_SHA256, I.HMAC_SHA256_128, C.AES_CBC_128],
    ] as const
  ).map(([id, auth, integrity, confidentiality]) => [id, { id, auth, integrity, confidentiality }]),
);

/** The suite with exactly these algorithms, if it is one of CIPHER_SUITES. */
export function findCipherSuite(auth: number, integrity: number, confidentiality: number): CipherSuite | undefined {
  for (const suite of CIPHER_SUITES.values()) {
    if (suite.auth === auth && suite.integrity === integrity && suite.confidentiality === confidentiality) return suite;
  }
  return undefined;
}

/** Record start bytes and algorithm tag bits (table 22-19). */
export const CipherRecord = { STANDARD: 0xc0, OEM: 0xc1, TAG_MASK: 0xc0, TAG_AUTH: 0x00, TAG_INTEGRITY: 0x40, TAG_CONFIDENTIALITY: 0x80 } as const;

/** Record bytes a Get Channel Cipher Suites response carries at most (§22.15). */
export const CIPHER_SUITE_RECORD_CHUNK = 16;

/** One record of the list: a suite ID and the algorithms it may use. */
export interface CipherSuiteRecord {
  readonly id: number;
  /** IANA enterprise number for OEM records (start byte 0xC1). */
  readonly oemIana?: number;
  readonly auth: readonly number[];
  readonly integrity: readonly number[];
  readonly confidentiality: readonly number[];
}

/** Encodes suites as the record list a BMC returns, 16 bytes per response (see cipherSuiteChunk). */
export function encodeCipherSuiteRecords(suites: Iterable<CipherSuite>): Buffer {
  const bytes: number[] = [];
  for (const s of suites) {
    bytes.push(
      CipherRecord.STANDARD,
      s.id,
      CipherRecord.TAG_AUTH | s.auth,
      CipherRecord.TAG_INTEGRITY | s.integrity,
      CipherRecord.TAG_CONFIDENTIALITY | s.confidentiality,
    );
  }
  return Buffer.from(bytes);
}

/** The slice of the record list for list index `index` (0..63): at most 16 bytes; fewer means "end of list". */
export function cipherSuiteChunk(records: Uint8Array, index: number): Buffer {
  const start = (index & 0x3f) * CIPHER_SUITE_RECORD_CHUNK;
  return Buffer.from(records.subarray(Math.min(start, records.length), Math.min(start + CIPHER_SUITE_RECORD_CHUNK, records.length)));
}

/**
 * Parses the concatenated record data of Get Channel Cipher Suites responses ("list
 * algorithms by cipher suite" form). Throws IpmiDecodeError on a record without a start byte.
 */
export function decodeCipherSuiteRecords(data: Uint8Array): CipherSuiteRecord[] {
  const r = new ByteReader(data, 'cipher suite records');
  const out: CipherSuiteRecord[] = [];
  while (r.remaining > 0) {
    const start = r.u8();
    if (start !== CipherRecord.STANDARD && start !== CipherRecord.OEM) r.fail(`expected record start 0xC0/0xC1, got 0x${start.toString(16)}`);
    const id = r.u8();
    let oemIana: number | undefined;
    if (start === CipherRecord.OEM) oemIana = r.u8() | (r.u8() << 8) | (r.u8() << 16);
    const auth: number[] = [];
    const integrity: number[] = [];
    const confidentiality: number[] = [];
    while (r.remaining > 0) {
      const peek = data[r.offset] as number;
      if ((peek & CipherRecord.TAG_MASK) === 0xc0) break;
      const b = r.u8();
      const tag = b & CipherRecord.TAG_MASK;
      if (tag === CipherRecord.TAG_AUTH) auth.push(b & 0x3f);
      else if (tag === CipherRecord.TAG_INTEGRITY) integrity.push(b & 0x3f);
      else confidentiality.push(b & 0x3f);
    }
    out.push(oemIana === undefined ? { id, auth, integrity, confidentiality } : { id, oemIana, auth, integrity, confidentiality });
  }
  return out;
}
