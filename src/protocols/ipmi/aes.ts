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

/** The cipher's state between rounds, column by column (FIPS 197 §3.4), and a scratch copy: one pair for every key, as JavaScript runs one block at a time. */
const state = new Uint8Array(AES_BLOCK);
const next = new Uint8Array(AES_BLOCK);
/** ShiftRows: byte i of the shifted state is byte SHIFT[i] of the state (row r of column c from column c + r). */
const SHIFT = new Uint8Array([0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11]);
/** InvShiftRows: row r of column c from column c - r. */
const INVERSE_SHIFT = new Uint8Array([0, 13, 10, 7, 4, 1, 14, 11, 8, 5, 2, 15, 12, 9, 6, 3]);

/** MixColumns (§5.1.3): each byte becomes 2·a ⊕ 3·b ⊕ c ⊕ d of its column, rotated. */
function mixColumns(s: Uint8Array): void {
  for (let c = 0; c < AES_BLOCK; c += 4) {
    const a0 = s[c]!,
      a1 = s[c + 1]!,
      a2 = s[c + 2]!,
      a3 = s[c + 3]!;
    const x = a0 ^ a1 ^ a2 ^ a3;
    s[c] = a0 ^ x ^ xtime(a0 ^ a1);
    s[c + 1] = a1 ^ x ^ xtime(a1 ^ a2);
    s[c + 2] = a2 ^ x ^ xtime(a2 ^ a3);
    s[c + 3] = a3 ^ x ^ xtime(a3 ^ a0);
  }
}

/** InvMixColumns (§5.3.3) as each column's 4·(a ⊕ c) and 4·(b ⊕ d) added, then MixColumns ("The Design of Rijndael" §4.1.3). */
function inverseMixColumns(s: Uint8Array): void {
  for (let c = 0; c < AES_BLOCK; c += 4) {
    const u = xtime(xtime(s[c]! ^ s[c + 2]!));
    const v = xtime(xtime(s[c + 1]! ^ s[c + 3]!));
    s[c]! ^= u;
    s[c + 1]! ^= v;
    s[c + 2]! ^= u;
    s[c + 3]! ^= v;
  }
  mixColumns(s);
}

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
    for (let i = 0; i < AES_BLOCK; i++) state[i] = input[from + i]! ^ w[i]!;
    for (let round = 1; round <= ROUNDS; round++) {
      // SubBytes and ShiftRows, MixColumns but in the last round, AddRoundKey.
      for (let i = 0; i < AES_BLOCK; i++) next[i] = SBOX[state[SHIFT[i]!]!]!;
      if (round < ROUNDS) mixColumns(next);
      const key = round * AES_BLOCK;
      for (let i = 0; i < AES_BLOCK; i++) state[i] = next[i]! ^ w[key + i]!;
    }
    output.set(state, to);
  }

  /** Decrypts the block at input[from] into output[to] (the two may be the same place): FIPS 197 §5.3's inverse cipher. */
  decryptBlock(input: Uint8Array, from: number, output: Uint8Array, to: number): void {
    const w = this.#w;
    for (let i = 0; i < AES_BLOCK; i++) state[i] = input[from + i]! ^ w[ROUNDS * AES_BLOCK + i]!;
    for (let round = ROUNDS - 1; round >= 0; round--) {
      // InvShiftRows and InvSubBytes, AddRoundKey, InvMixColumns but in the last round.
      const key = round * AES_BLOCK;
      for (let i = 0; i < AES_BLOCK; i++) next[i] = INVERSE[state[INVERSE_SHIFT[i]!]!]! ^ w[key + i]!;
      if (round > 0) inverseMixColumns(next);
      state.set(next);
    }
    output.set(state, to);
  }
}
