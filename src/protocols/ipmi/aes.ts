// AES-128 (FIPS 197), one block at a time, in plain JavaScript: RMCP+ encrypts a packet's
// payload, one to a few blocks, with AES-CBC-128 (§13.29; crypto.ts chains the blocks).
//
// Why not node:crypto: loading it costs ~4.5 ms of every process that does (a tenth of a whole
// `anvil ipmi ... power status`), and a cipher's update() ~2 µs of call overhead per block.
// Byte by byte, as FIPS 197 §5 describes the cipher, with only the S-box as a table: the 4 KiB
// "T-tables" of fast software AES took ~1 ms to build in a fresh process, most of whose code
// runs in V8's interpreter, for a run that encrypts a dozen blocks. xtime has no branch; the
// S-box lookups are indexed by key-dependent bytes, so a process sharing this CPU's cache could
// in principle time them, but an RMCP+ session key lives for one session and a handful of
// packets, far from the many thousands of blocks such an attack needs.
// Checked against FIPS 197's vectors and node:crypto on random keys and blocks (aes.test.ts).

export const AES_BLOCK = 16;
const ROUNDS = 10;

/** FIPS 197 figure 7, the S-box, row by row. */
const SBOX = Buffer.from(
  '637c777bf26b6fc53001672bfed7ab76ca82c97dfa5947f0add4a2af9ca472c0b7fd9326363ff7cc34a5e5f171d8311504c723c31896059a071280e2eb27b275' +
    '09832c1a1b6e5aa0523bd6b329e32f8453d100ed20fcb15b6acbbe394a4c58cfd0efaafb434d338545f9027f503c9fa851a3408f929d38f5bcb6da2110fff3d2' +
    'cd0c13ec5f974417c4a77e3d645d197360814fdc222a908846eeb814de5e0bdbe0323a0a4906245cc2d3ac629195e479e7c8376d8dd54ea96c56f4ea657aae08' +
    'ba78252e1ca6b4c6e8dd741f4bbd8b8a703eb5664803f60e613557b986c11d9ee1f8981169d98e949b1e87e9ce5528df8ca1890dbfe6426841992d0fb054bb16',
  'hex',
);
/** FIPS 197 figure 14, the inverse S-box: SBOX read backwards. */
const INVERSE = new Uint8Array(256);
for (let x = 0; x < 256; x++) INVERSE[SBOX[x]!] = x;

/** x × 2 in GF(2^8), reduced modulo x^8 + x^4 + x^3 + x + 1 (FIPS 197 §4.2.1), without a branch. */
const xtime = (x: number): number => ((x << 1) ^ ((x >>> 7) * 0x1b)) & 0xff;

/** The cipher's state between rounds, column by column (FIPS 197 §3.4): one for every key, as JavaScript runs one block at a time. */
const state = new Uint8Array(AES_BLOCK);

/** One AES-128 key, expanded (FIPS 197 §5.2). */
export class Aes128 {
  /** The 11 round keys, 16 bytes each. */
  readonly #w = new Uint8Array(AES_BLOCK * (ROUNDS + 1));

  constructor(key: Uint8Array) {
    if (key.length !== AES_BLOCK) throw new RangeError(`an AES-128 key is ${AES_BLOCK} bytes, not ${key.length}`);
    const w = this.#w;
    w.set(key);
    for (let at = AES_BLOCK, rcon = 1; at < w.length; at += 4) {
      let t0 = w[at - 4]!,
        t1 = w[at - 3]!,
        t2 = w[at - 2]!,
        t3 = w[at - 1]!;
      if (at % AES_BLOCK === 0) {
        // RotWord, SubWord, and the round constant.
        const first = t0;
        t0 = SBOX[t1]! ^ rcon;
        t1 = SBOX[t2]!;
        t2 = SBOX[t3]!;
        t3 = SBOX[first]!;
        rcon = xtime(rcon);
      }
      w[at] = w[at - AES_BLOCK]! ^ t0;
      w[at + 1] = w[at - AES_BLOCK + 1]! ^ t1;
      w[at + 2] = w[at - AES_BLOCK + 2]! ^ t2;
      w[at + 3] = w[at - AES_BLOCK + 3]! ^ t3;
    }
  }

  /** Encrypts the block at input[from] into output[to] (the two may be the same place). */
  encryptBlock(input: Uint8Array, from: number, output: Uint8Array, to: number): void {
    const w = this.#w;
    const s = state;
    for (let i = 0; i < AES_BLOCK; i++) s[i] = input[from + i]! ^ w[i]!;
    for (let round = 1; round <= ROUNDS; round++) {
      const key = round * AES_BLOCK;
      // SubBytes and ShiftRows: row r of column c comes from column c + r.
      let a0 = SBOX[s[0]!]!,
        a1 = SBOX[s[5]!]!,
        a2 = SBOX[s[10]!]!,
        a3 = SBOX[s[15]!]!;
      let b0 = SBOX[s[4]!]!,
        b1 = SBOX[s[9]!]!,
        b2 = SBOX[s[14]!]!,
        b3 = SBOX[s[3]!]!;
      let c0 = SBOX[s[8]!]!,
        c1 = SBOX[s[13]!]!,
        c2 = SBOX[s[2]!]!,
        c3 = SBOX[s[7]!]!;
      let d0 = SBOX[s[12]!]!,
        d1 = SBOX[s[1]!]!,
        d2 = SBOX[s[6]!]!,
        d3 = SBOX[s[11]!]!;
      if (round < ROUNDS) {
        // MixColumns (§5.1.3): each byte becomes 2·a ⊕ 3·b ⊕ c ⊕ d of its column, rotated.
        let x = a0 ^ a1 ^ a2 ^ a3,
          f = a0;
        a0 ^= x ^ xtime(a0 ^ a1);
        a1 ^= x ^ xtime(a1 ^ a2);
        a2 ^= x ^ xtime(a2 ^ a3);
        a3 ^= x ^ xtime(a3 ^ f);
        x = b0 ^ b1 ^ b2 ^ b3;
        f = b0;
        b0 ^= x ^ xtime(b0 ^ b1);
        b1 ^= x ^ xtime(b1 ^ b2);
        b2 ^= x ^ xtime(b2 ^ b3);
        b3 ^= x ^ xtime(b3 ^ f);
        x = c0 ^ c1 ^ c2 ^ c3;
        f = c0;
        c0 ^= x ^ xtime(c0 ^ c1);
        c1 ^= x ^ xtime(c1 ^ c2);
        c2 ^= x ^ xtime(c2 ^ c3);
        c3 ^= x ^ xtime(c3 ^ f);
        x = d0 ^ d1 ^ d2 ^ d3;
        f = d0;
        d0 ^= x ^ xtime(d0 ^ d1);
        d1 ^= x ^ xtime(d1 ^ d2);
        d2 ^= x ^ xtime(d2 ^ d3);
        d3 ^= x ^ xtime(d3 ^ f);
      }
      s[0] = a0 ^ w[key]!;
      s[1] = a1 ^ w[key + 1]!;
      s[2] = a2 ^ w[key + 2]!;
      s[3] = a3 ^ w[key + 3]!;
      s[4] = b0 ^ w[key + 4]!;
      s[5] = b1 ^ w[key + 5]!;
      s[6] = b2 ^ w[key + 6]!;
      s[7] = b3 ^ w[key + 7]!;
      s[8] = c0 ^ w[key + 8]!;
      s[9] = c1 ^ w[key + 9]!;
      s[10] = c2 ^ w[key + 10]!;
      s[11] = c3 ^ w[key + 11]!;
      s[12] = d0 ^ w[key + 12]!;
      s[13] = d1 ^ w[key + 13]!;
      s[14] = d2 ^ w[key + 14]!;
      s[15] = d3 ^ w[key + 15]!;
    }
    output.set(s, to);
  }

  /** Decrypts the block at input[from] into output[to] (the two may be the same place): FIPS 197 §5.3's inverse cipher. */
  decryptBlock(input: Uint8Array, from: number, output: Uint8Array, to: number): void {
    const w = this.#w;
    const s = state;
    for (let i = 0; i < AES_BLOCK; i++) s[i] = input[from + i]! ^ w[ROUNDS * AES_BLOCK + i]!;
    for (let round = ROUNDS - 1; round >= 0; round--) {
      const key = round * AES_BLOCK;
      // InvShiftRows and InvSubBytes: row r of column c comes from column c - r; then AddRoundKey.
      let a0 = INVERSE[s[0]!]! ^ w[key]!,
        a1 = INVERSE[s[13]!]! ^ w[key + 1]!,
        a2 = INVERSE[s[10]!]! ^ w[key + 2]!,
        a3 = INVERSE[s[7]!]! ^ w[key + 3]!;
      let b0 = INVERSE[s[4]!]! ^ w[key + 4]!,
        b1 = INVERSE[s[1]!]! ^ w[key + 5]!,
        b2 = INVERSE[s[14]!]! ^ w[key + 6]!,
        b3 = INVERSE[s[11]!]! ^ w[key + 7]!;
      let c0 = INVERSE[s[8]!]! ^ w[key + 8]!,
        c1 = INVERSE[s[5]!]! ^ w[key + 9]!,
        c2 = INVERSE[s[2]!]! ^ w[key + 10]!,
        c3 = INVERSE[s[15]!]! ^ w[key + 11]!;
      let d0 = INVERSE[s[12]!]! ^ w[key + 12]!,
        d1 = INVERSE[s[9]!]! ^ w[key + 13]!,
        d2 = INVERSE[s[6]!]! ^ w[key + 14]!,
        d3 = INVERSE[s[3]!]! ^ w[key + 15]!;
      if (round > 0) {
        // InvMixColumns (§5.3.3) as a column's 4·(a ⊕ c) and 4·(b ⊕ d) added, then MixColumns ("The Design of Rijndael" §4.1.3).
        let u = xtime(xtime(a0 ^ a2)),
          v = xtime(xtime(a1 ^ a3));
        a0 ^= u;
        a1 ^= v;
        a2 ^= u;
        a3 ^= v;
        u = xtime(xtime(b0 ^ b2));
        v = xtime(xtime(b1 ^ b3));
        b0 ^= u;
        b1 ^= v;
        b2 ^= u;
        b3 ^= v;
        u = xtime(xtime(c0 ^ c2));
        v = xtime(xtime(c1 ^ c3));
        c0 ^= u;
        c1 ^= v;
        c2 ^= u;
        c3 ^= v;
        u = xtime(xtime(d0 ^ d2));
        v = xtime(xtime(d1 ^ d3));
        d0 ^= u;
        d1 ^= v;
        d2 ^= u;
        d3 ^= v;
        let x = a0 ^ a1 ^ a2 ^ a3,
          f = a0;
        a0 ^= x ^ xtime(a0 ^ a1);
        a1 ^= x ^ xtime(a1 ^ a2);
        a2 ^= x ^ xtime(a2 ^ a3);
        a3 ^= x ^ xtime(a3 ^ f);
        x = b0 ^ b1 ^ b2 ^ b3;
        f = b0;
        b0 ^= x ^ xtime(b0 ^ b1);
        b1 ^= x ^ xtime(b1 ^ b2);
        b2 ^= x ^ xtime(b2 ^ b3);
        b3 ^= x ^ xtime(b3 ^ f);
        x = c0 ^ c1 ^ c2 ^ c3;
        f = c0;
        c0 ^= x ^ xtime(c0 ^ c1);
        c1 ^= x ^ xtime(c1 ^ c2);
        c2 ^= x ^ xtime(c2 ^ c3);
        c3 ^= x ^ xtime(c3 ^ f);
        x = d0 ^ d1 ^ d2 ^ d3;
        f = d0;
        d0 ^= x ^ xtime(d0 ^ d1);
        d1 ^= x ^ xtime(d1 ^ d2);
        d2 ^= x ^ xtime(d2 ^ d3);
        d3 ^= x ^ xtime(d3 ^ f);
      }
      s[0] = a0;
      s[1] = a1;
      s[2] = a2;
      s[3] = a3;
      s[4] = b0;
      s[5] = b1;
      s[6] = b2;
      s[7] = b3;
      s[8] = c0;
      s[9] = c1;
      s[10] = c2;
      s[11] = c3;
      s[12] = d0;
      s[13] = d1;
      s[14] = d2;
      s[15] = d3;
    }
    output.set(s, to);
  }
}
