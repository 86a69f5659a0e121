// AES-128 (FIPS 197), one block at a time, in plain JavaScript: RMCP+ encrypts a packet's
// payload, one to a few blocks, with AES-CBC-128 (§13.29; crypto.ts chains the blocks).
//
// Why not node:crypto: loading it costs ~4.5 ms of every process that does (a tenth of a whole
// `anvil ipmi ... power status`), and a cipher's update() ~2 µs of call overhead per block.
// The round function uses the usual 1 KiB lookup tables (FIPS 197 §5.2.1's "T-tables"), built
// at first use. Their lookups are indexed by key-dependent bytes, so a process sharing this
// CPU's cache could in principle time them; an RMCP+ session key lives for one session and
// encrypts a handful of packets, far from the many thousands of blocks such an attack needs.
// Checked against FIPS 197's vectors and node:crypto on random keys and blocks (aes.test.ts).

export const AES_BLOCK = 16;
const ROUNDS = 10;

interface Tables {
  readonly sbox: Uint8Array;
  readonly inverse: Uint8Array;
  /** Encryption: SubBytes, ShiftRows' column and MixColumns of one byte, rotated by 0, 8, 16, 24 bits. */
  readonly te: readonly [Int32Array, Int32Array, Int32Array, Int32Array];
  /** Decryption: the same for InvSubBytes and InvMixColumns. */
  readonly td: readonly [Int32Array, Int32Array, Int32Array, Int32Array];
}

let tables: Tables | undefined;

/** Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1. */
function gmul(a: number, b: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) {
    if (b & 1) p ^= a;
    const high = a & 0x80;
    a = (a << 1) & 0xff;
    if (high) a ^= 0x1b;
    b >>= 1;
  }
  return p;
}

function buildTables(): Tables {
  const sbox = new Uint8Array(256);
  const inverse = new Uint8Array(256);
  // The multiplicative inverse of x is 3^(255 - log3 x); then FIPS 197 §5.1.1's affine map.
  const exp = new Uint8Array(256);
  const log = new Uint8Array(256);
  for (let i = 0, x = 1; i < 255; i++, x = gmul(x, 3)) {
    exp[i] = x;
    log[x] = i;
  }
  for (let x = 0; x < 256; x++) {
    const inv = x === 0 ? 0 : exp[(255 - log[x]!) % 255]!;
    let s = inv;
    for (let r = 1; r <= 4; r++) s ^= ((inv << r) | (inv >>> (8 - r))) & 0xff;
    s ^= 0x63;
    sbox[x] = s;
    inverse[s] = x;
  }
  const te = [new Int32Array(256), new Int32Array(256), new Int32Array(256), new Int32Array(256)] as const;
  const td = [new Int32Array(256), new Int32Array(256), new Int32Array(256), new Int32Array(256)] as const;
  for (let x = 0; x < 256; x++) {
    const s = sbox[x]!;
    const e = (gmul(s, 2) << 24) | (s << 16) | (s << 8) | gmul(s, 3);
    const i = inverse[x]!;
    const d = (gmul(i, 14) << 24) | (gmul(i, 9) << 16) | (gmul(i, 13) << 8) | gmul(i, 11);
    for (let r = 0; r < 4; r++) {
      te[r]![x] = (e >>> (8 * r)) | (e << (32 - 8 * r));
      td[r]![x] = (d >>> (8 * r)) | (d << (32 - 8 * r));
    }
  }
  return { sbox, inverse, te, td };
}

function readWord(b: Uint8Array, at: number): number {
  return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
}

function writeWord(b: Uint8Array, at: number, w: number): void {
  b[at] = w >>> 24;
  b[at + 1] = w >>> 16;
  b[at + 2] = w >>> 8;
  b[at + 3] = w;
}

/** One AES-128 key, expanded for both directions (FIPS 197 §5.2, and §5.3.5's equivalent inverse cipher). */
export class Aes128 {
  readonly #t: Tables;
  readonly #enc = new Int32Array(4 * (ROUNDS + 1));
  readonly #dec = new Int32Array(4 * (ROUNDS + 1));

  constructor(key: Uint8Array) {
    if (key.length !== AES_BLOCK) throw new RangeError(`an AES-128 key is ${AES_BLOCK} bytes, not ${key.length}`);
    const t = (tables ??= buildTables());
    this.#t = t;
    const s = t.sbox;
    const enc = this.#enc;
    for (let i = 0; i < 4; i++) enc[i] = readWord(key, 4 * i);
    for (let i = 4, rcon = 1; i < enc.length; i++) {
      let w = enc[i - 1]!;
      if (i % 4 === 0) {
        // RotWord, SubWord, and the round constant.
        w = ((s[(w >>> 16) & 0xff]! << 24) | (s[(w >>> 8) & 0xff]! << 16) | (s[w & 0xff]! << 8) | s[w >>> 24]!) ^ (rcon << 24);
        rcon = gmul(rcon, 2);
      }
      enc[i] = enc[i - 4]! ^ w;
    }
    // The decryption schedule: the rounds in reverse, InvMixColumns applied to all but the first and last.
    const dec = this.#dec;
    const [d0, d1, d2, d3] = t.td;
    for (let round = 0; round <= ROUNDS; round++) {
      for (let j = 0; j < 4; j++) {
        const w = enc[4 * (ROUNDS - round) + j]!;
        dec[4 * round + j] =
          round === 0 || round === ROUNDS ? w : d0[s[w >>> 24]!]! ^ d1[s[(w >>> 16) & 0xff]!]! ^ d2[s[(w >>> 8) & 0xff]!]! ^ d3[s[w & 0xff]!]!;
      }
    }
  }

  /** Encrypts the block at input[from] into output[to] (the two may be the same place). */
  encryptBlock(input: Uint8Array, from: number, output: Uint8Array, to: number): void {
    const k = this.#enc;
    const [t0, t1, t2, t3] = this.#t.te;
    const s = this.#t.sbox;
    let a = readWord(input, from) ^ k[0]!;
    let b = readWord(input, from + 4) ^ k[1]!;
    let c = readWord(input, from + 8) ^ k[2]!;
    let d = readWord(input, from + 12) ^ k[3]!;
    for (let r = 1; r < ROUNDS; r++) {
      const na = t0[a >>> 24]! ^ t1[(b >>> 16) & 0xff]! ^ t2[(c >>> 8) & 0xff]! ^ t3[d & 0xff]! ^ k[4 * r]!;
      const nb = t0[b >>> 24]! ^ t1[(c >>> 16) & 0xff]! ^ t2[(d >>> 8) & 0xff]! ^ t3[a & 0xff]! ^ k[4 * r + 1]!;
      const nc = t0[c >>> 24]! ^ t1[(d >>> 16) & 0xff]! ^ t2[(a >>> 8) & 0xff]! ^ t3[b & 0xff]! ^ k[4 * r + 2]!;
      const nd = t0[d >>> 24]! ^ t1[(a >>> 16) & 0xff]! ^ t2[(b >>> 8) & 0xff]! ^ t3[c & 0xff]! ^ k[4 * r + 3]!;
      a = na;
      b = nb;
      c = nc;
      d = nd;
    }
    const last = 4 * ROUNDS;
    writeWord(output, to, ((s[a >>> 24]! << 24) | (s[(b >>> 16) & 0xff]! << 16) | (s[(c >>> 8) & 0xff]! << 8) | s[d & 0xff]!) ^ k[last]!);
    writeWord(output, to + 4, ((s[b >>> 24]! << 24) | (s[(c >>> 16) & 0xff]! << 16) | (s[(d >>> 8) & 0xff]! << 8) | s[a & 0xff]!) ^ k[last + 1]!);
    writeWord(output, to + 8, ((s[c >>> 24]! << 24) | (s[(d >>> 16) & 0xff]! << 16) | (s[(a >>> 8) & 0xff]! << 8) | s[b & 0xff]!) ^ k[last + 2]!);
    writeWord(output, to + 12, ((s[d >>> 24]! << 24) | (s[(a >>> 16) & 0xff]! << 16) | (s[(b >>> 8) & 0xff]! << 8) | s[c & 0xff]!) ^ k[last + 3]!);
  }

  /** Decrypts the block at input[from] into output[to] (the two may be the same place). */
  decryptBlock(input: Uint8Array, from: number, output: Uint8Array, to: number): void {
    const k = this.#dec;
    const [t0, t1, t2, t3] = this.#t.td;
    const s = this.#t.inverse;
    let a = readWord(input, from) ^ k[0]!;
    let b = readWord(input, from + 4) ^ k[1]!;
    let c = readWord(input, from + 8) ^ k[2]!;
    let d = readWord(input, from + 12) ^ k[3]!;
    for (let r = 1; r < ROUNDS; r++) {
      const na = t0[a >>> 24]! ^ t1[(d >>> 16) & 0xff]! ^ t2[(c >>> 8) & 0xff]! ^ t3[b & 0xff]! ^ k[4 * r]!;
      const nb = t0[b >>> 24]! ^ t1[(a >>> 16) & 0xff]! ^ t2[(d >>> 8) & 0xff]! ^ t3[c & 0xff]! ^ k[4 * r + 1]!;
      const nc = t0[c >>> 24]! ^ t1[(b >>> 16) & 0xff]! ^ t2[(a >>> 8) & 0xff]! ^ t3[d & 0xff]! ^ k[4 * r + 2]!;
      const nd = t0[d >>> 24]! ^ t1[(c >>> 16) & 0xff]! ^ t2[(b >>> 8) & 0xff]! ^ t3[a & 0xff]! ^ k[4 * r + 3]!;
      a = na;
      b = nb;
      c = nc;
      d = nd;
    }
    const last = 4 * ROUNDS;
    writeWord(output, to, ((s[a >>> 24]! << 24) | (s[(d >>> 16) & 0xff]! << 16) | (s[(c >>> 8) & 0xff]! << 8) | s[b & 0xff]!) ^ k[last]!);
    writeWord(output, to + 4, ((s[b >>> 24]! << 24) | (s[(a >>> 16) & 0xff]! << 16) | (s[(d >>> 8) & 0xff]! << 8) | s[c & 0xff]!) ^ k[last + 1]!);
    writeWord(output, to + 8, ((s[c >>> 24]! << 24) | (s[(b >>> 16) & 0xff]! << 16) | (s[(a >>> 8) & 0xff]! << 8) | s[d & 0xff]!) ^ k[last + 2]!);
    writeWord(output, to + 12, ((s[d >>> 24]! << 24) | (s[(c >>> 16) & 0xff]! << 16) | (s[(b >>> 8) & 0xff]! << 8) | s[a & 0xff]!) ^ k[last + 3]!);
  }
}
