// SHA-1, SHA-256 and MD5 (FIPS 180-4, RFC 1321), HMAC over them (RFC 2104), and a
// constant-time comparison: everything IPMI hashes, in plain JavaScript.
//
// Why not node:crypto: loading it costs ~4.5 ms of every process that does (a tenth of a whole
// `anvil ipmi ... power status`), and every call into it ~5 µs of JS-to-C++ and object set-up
// for what is here one or two 64-byte compressions: an RMCP+ packet's integrity code, an RAKP
// auth code. HmacKey keeps a key's inner and outer pad states, so an HMAC of a short message
// costs two compressions, not four. Arithmetic only: no table lookup depends on a secret.
// Checked against node:crypto on random inputs and against the FIPS and RFC vectors
// (digests.test.ts), and end to end against ipmitool, FreeIPMI, ipmi_sim and pyghmi.

export type DigestName = 'sha1' | 'md5' | 'sha256';

const BLOCK = 64;
/** Bytes of a block left for the message once the padding's 0x80 and 8-byte length fit: 55. */
const LAST_BLOCK_ROOM = BLOCK - 9;

interface Algorithm {
  readonly name: DigestName;
  /** Digest length in bytes. */
  readonly length: number;
  readonly initial: Int32Array;
  /** MD5 reads and writes words little-endian, the SHAs big-endian. */
  readonly littleEndian: boolean;
  /** Runs the compression over data[from, to), a whole number of blocks, into state. */
  readonly compress: (state: Int32Array, data: Uint8Array, from: number, to: number) => void;
}

/** A block's 16 big-endian words into w[0..15] (the SHAs' message schedule starts with them). */
function readBlock(w: Int32Array, d: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++) {
    const j = at + 4 * i;
    w[i] = (d[j]! << 24) | (d[j + 1]! << 16) | (d[j + 2]! << 8) | d[j + 3]!;
  }
}

// ---- SHA-256 (FIPS 180-4 §6.2) ----

const K256 = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74,
  0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d,
  0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e,
  0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
  0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W256 = new Int32Array(64);

function compress256(state: Int32Array, d: Uint8Array, from: number, to: number): void {
  const w = W256;
  let h0 = state[0]!,
    h1 = state[1]!,
    h2 = state[2]!,
    h3 = state[3]!,
    h4 = state[4]!,
    h5 = state[5]!,
    h6 = state[6]!,
    h7 = state[7]!;
  for (let at = from; at < to; at += BLOCK) {
    readBlock(w, d, at);
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h0,
      b = h1,
      c = h2,
      e = h4,
      f = h5,
      g = h6,
      h = h7,
      dd = h3;
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K256[i]! + w[i]!) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (dd + t1) | 0;
      dd = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + dd) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
  state[4] = h4;
  state[5] = h5;
  state[6] = h6;
  state[7] = h7;
}

// ---- SHA-1 (FIPS 180-4 §6.1) ----

const W1 = new Int32Array(80);

function compress1(state: Int32Array, d: Uint8Array, from: number, to: number): void {
  const w = W1;
  let h0 = state[0]!,
    h1 = state[1]!,
    h2 = state[2]!,
    h3 = state[3]!,
    h4 = state[4]!;
  for (let at = from; at < to; at += BLOCK) {
    readBlock(w, d, at);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0,
      b = h1,
      c = h2,
      dd = h3,
      e = h4;
    for (let i = 0; i < 80; i++) {
      let f: number;
      let k: number;
      if (i < 20) {
        f = (b & c) | (~b & dd);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ dd;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & dd) | (c & dd);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ dd;
        k = 0xca62c1d6;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]!) | 0;
      e = dd;
      dd = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + dd) | 0;
    h4 = (h4 + e) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
  state[4] = h4;
}

// ---- MD5 (RFC 1321 §3.4) ----

/** floor(abs(sin(i + 1)) × 2^32), RFC 1321's table T, computed: the test vectors hold it to the RFC's values. */
const K5 = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);
const S5 = new Uint8Array([7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]);
const M5 = new Int32Array(16);

function compress5(state: Int32Array, d: Uint8Array, from: number, to: number): void {
  const m = M5;
  let h0 = state[0]!,
    h1 = state[1]!,
    h2 = state[2]!,
    h3 = state[3]!;
  for (let at = from; at < to; at += BLOCK) {
    for (let i = 0; i < 16; i++) {
      const j = at + 4 * i;
      m[i] = d[j]! | (d[j + 1]! << 8) | (d[j + 2]! << 16) | (d[j + 3]! << 24);
    }
    let a = h0,
      b = h1,
      c = h2,
      dd = h3;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & dd);
        g = i;
      } else if (i < 32) {
        f = (dd & b) | (~dd & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ dd;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~dd);
        g = (7 * i) & 15;
      }
      const s = S5[((i >>> 4) << 2) | (i & 3)]!;
      const x = (a + f + K5[i]! + m[g]!) | 0;
      a = dd;
      dd = c;
      c = b;
      b = (b + ((x << s) | (x >>> (32 - s)))) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + dd) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
}

const ALGORITHMS: Readonly<Record<DigestName, Algorithm>> = {
  sha256: {
    name: 'sha256',
    length: 32,
    initial: new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]),
    littleEndian: false,
    compress: compress256,
  },
  sha1: {
    name: 'sha1',
    length: 20,
    initial: new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]),
    littleEndian: false,
    compress: compress1,
  },
  md5: {
    name: 'md5',
    length: 16,
    initial: new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]),
    littleEndian: true,
    compress: compress5,
  },
};

function algorithm(name: DigestName): Algorithm {
  const a = ALGORITHMS[name];
  if (a === undefined) throw new TypeError(`unknown digest '${String(name)}'`);
  return a;
}

/**
 * One running hash. Not exported: digest() and HmacKey share the one module-level instance,
 * since each call starts and finishes its hash before it returns (HmacKey works out its pads first).
 */
class Running {
  readonly state = new Int32Array(8);
  readonly #block = new Uint8Array(BLOCK);
  #fill = 0;
  #bytes = 0;
  #alg: Algorithm = ALGORITHMS.sha256;

  /** Starts from `from` (an algorithm's initial state, or a saved one) with `bytes` already hashed. */
  start(alg: Algorithm, from: Int32Array, bytes: number): this {
    this.#alg = alg;
    this.state.set(from);
    this.#fill = 0;
    this.#bytes = bytes;
    return this;
  }

  update(d: Uint8Array): void {
    const n = d.length;
    const block = this.#block;
    this.#bytes += n;
    let at = 0;
    if (this.#fill > 0) {
      const take = Math.min(BLOCK - this.#fill, n);
      for (let i = 0; i < take; i++) block[this.#fill + i] = d[i]!;
      this.#fill += take;
      at = take;
      if (this.#fill < BLOCK) return;
      this.#alg.compress(this.state, block, 0, BLOCK);
      this.#fill = 0;
    }
    const whole = at + ((n - at) & ~(BLOCK - 1));
    if (whole > at) this.#alg.compress(this.state, d, at, whole);
    for (let i = whole; i < n; i++) block[i - whole] = d[i]!;
    this.#fill = n - whole;
  }

  /** Pads, and writes the digest to out at `offset`. */
  finish(out: Uint8Array, offset: number): void {
    const block = this.#block;
    const alg = this.#alg;
    let fill = this.#fill;
    block[fill++] = 0x80;
    if (fill > BLOCK - 8) {
      block.fill(0, fill);
      alg.compress(this.state, block, 0, BLOCK);
      fill = 0;
    }
    block.fill(0, fill, BLOCK - 8);
    // The message length in bits, 64 bits wide.
    const low = (this.#bytes * 8) >>> 0;
    const high = Math.floor(this.#bytes / 2 ** 29) >>> 0;
    if (alg.littleEndian) {
      writeWord(block, BLOCK - 8, low, true);
      writeWord(block, BLOCK - 4, high, true);
    } else {
      writeWord(block, BLOCK - 8, high, false);
      writeWord(block, BLOCK - 4, low, false);
    }
    alg.compress(this.state, block, 0, BLOCK);
    for (let i = 0; i < alg.length / 4; i++) writeWord(out, offset + 4 * i, this.state[i]!, alg.littleEndian);
  }
}

function writeWord(out: Uint8Array, at: number, word: number, littleEndian: boolean): void {
  if (littleEndian) {
    out[at] = word;
    out[at + 1] = word >>> 8;
    out[at + 2] = word >>> 16;
    out[at + 3] = word >>> 24;
  } else {
    out[at] = word >>> 24;
    out[at + 1] = word >>> 16;
    out[at + 2] = word >>> 8;
    out[at + 3] = word;
  }
}

const running = new Running();

/** The digest of the parts, concatenated. */
export function digest(name: DigestName, ...parts: Uint8Array[]): Buffer {
  const alg = algorithm(name);
  running.start(alg, alg.initial, 0);
  for (const p of parts) running.update(p);
  const out = Buffer.allocUnsafe(alg.length);
  running.finish(out, 0);
  return out;
}

/** A key's states after its inner (0x36) and outer (0x5c) pad block, for one digest. */
interface Pads {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

/**
 * An HMAC key (RFC 2104), with its pad states kept for each digest it is used with: an HMAC of
 * a message under 56 bytes is then two compressions. The key's bytes are copied.
 */
export class HmacKey {
  readonly #key: Uint8Array;
  #sha1: Pads | undefined;
  #sha256: Pads | undefined;
  #md5: Pads | undefined;

  constructor(key: Uint8Array) {
    this.#key = Uint8Array.from(key);
  }

  /** HMAC of the parts, concatenated. */
  mac(name: DigestName, ...parts: Uint8Array[]): Buffer {
    const alg = algorithm(name);
    const pads = this.#pads(alg);
    running.start(alg, pads.inner, BLOCK);
    for (const p of parts) running.update(p);
    const out = Buffer.allocUnsafe(alg.length);
    running.finish(out, 0);
    running.start(alg, pads.outer, BLOCK);
    running.update(out);
    running.finish(out, 0);
    return out;
  }

  #pads(alg: Algorithm): Pads {
    const kept = alg.name === 'sha1' ? this.#sha1 : alg.name === 'sha256' ? this.#sha256 : this.#md5;
    if (kept !== undefined) return kept;
    // A key longer than a block is hashed first (RFC 2104 §2); a shorter one is zero-padded.
    const key = this.#key.length > BLOCK ? digest(alg.name, this.#key) : this.#key;
    const block = new Uint8Array(BLOCK);
    const pad = (byte: number): Int32Array => {
      for (let i = 0; i < BLOCK; i++) block[i] = (key[i] ?? 0) ^ byte;
      const state = alg.initial.slice();
      alg.compress(state, block, 0, BLOCK);
      return state;
    };
    const pads = { inner: pad(0x36), outer: pad(0x5c) };
    if (alg.name === 'sha1') this.#sha1 = pads;
    else if (alg.name === 'sha256') this.#sha256 = pads;
    else this.#md5 = pads;
    return pads;
  }
}

/** HMAC of the parts under a key given as bytes (a new HmacKey) or kept (an HmacKey). */
export function hmac(name: DigestName, key: Uint8Array | HmacKey, ...parts: Uint8Array[]): Buffer {
  return (key instanceof HmacKey ? key : new HmacKey(key)).mac(name, ...parts);
}

/** Whether a and b hold the same bytes, in time that depends on their length only. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
