// Bounds-checked reading of little-endian wire data. Every out-of-range read becomes an
// IpmiDecodeError, so decoders never throw RangeError or return undefined bytes.
import { IpmiDecodeError } from './errors.ts';

/** A cursor over bytes whose every read is bounds-checked. */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #what: string;
  #offset: number;

  constructor(bytes: Uint8Array, what: string, offset = 0) {
    this.#bytes = bytes;
    this.#what = what;
    this.#offset = offset;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  #need(n: number): void {
    if (n < 0 || this.#offset + n > this.#bytes.length) {
      throw new IpmiDecodeError(`${this.#what}: truncated (needed ${n} byte(s) at offset ${this.#offset}, have ${this.#bytes.length})`);
    }
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.#offset++] as number;
  }

  u16(): number {
    this.#need(2);
    const v = (this.#bytes[this.#offset] as number) | ((this.#bytes[this.#offset + 1] as number) << 8);
    this.#offset += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const b = this.#bytes;
    const o = this.#offset;
    const v = ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24)) >>> 0;
    this.#offset += 4;
    return v;
  }

  u32be(): number {
    this.#need(4);
    const b = this.#bytes;
    const o = this.#offset;
    const v = (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
    this.#offset += 4;
    return v;
  }

  /** A copy of the next n bytes. */
  bytes(n: number): Buffer {
    this.#need(n);
    const out = Buffer.from(this.#bytes.subarray(this.#offset, this.#offset + n));
    this.#offset += n;
    return out;
  }

  skip(n: number): void {
    this.#need(n);
    this.#offset += n;
  }

  /** A copy of everything not read yet. */
  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  fail(message: string): never {
    throw new IpmiDecodeError(`${this.#what}: ${message}`);
  }
}

export function u16le(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n & 0xffff);
  return b;
}

export function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
