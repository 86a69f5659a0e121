// Type/length-prefixed strings, used by FRU areas and SDR ID strings
// (Platform Management FRU Information Storage Definition v1.0 §13; IPMI v2.0 §43.15).
import { at, hex, IpmiPayloadError } from './request.ts';

/** Bits 7:6 of the type/length byte. */
export type FieldEncoding = 'binary' | 'bcd-plus' | '6-bit-ascii' | 'text';
const ENCODINGS: readonly FieldEncoding[] = ['binary', 'bcd-plus', '6-bit-ascii', 'text'];

/** 0xC1 ends the list of fields in a FRU area (FRU spec §13). */
export const END_OF_FIELDS = 0xc1;
const BCD_PLUS = '0123456789 -.:,_';

export interface TypeLengthField {
  readonly encoding: FieldEncoding;
  readonly text: string;
  /** Bytes consumed, including the type/length byte. */
  readonly size: number;
}

/** 6-bit packed ASCII: four characters in three bytes, least significant bits first, offset 0x20. */
function sixBitAscii(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc |= byte << bits;
    bits += 8;
    while (bits >= 6) {
      out += String.fromCharCode((acc & 0x3f) + 0x20);
      acc >>= 6;
      bits -= 6;
    }
  }
  return out;
}

export function decodeTypeLength(data: Uint8Array, offset: number): TypeLengthField {
  const tl = at(data, offset);
  const encoding = ENCODINGS[tl >> 6] ?? 'binary';
  const length = tl & 0x3f;
  if (offset + 1 + length > data.length) {
    throw new IpmiPayloadError(`type/length field at ${offset} says ${length} bytes, only ${data.length - offset - 1} remain`);
  }
  const bytes = data.subarray(offset + 1, offset + 1 + length);
  let text: string;
  switch (encoding) {
    case 'binary':
      text = hex(bytes);
      break;
    case 'bcd-plus':
      text = Array.from(bytes, (b) => (BCD_PLUS[b >> 4] ?? '') + (BCD_PLUS[b & 0x0f] ?? '')).join('');
      break;
    case '6-bit-ascii':
      text = sixBitAscii(bytes);
      break;
    case 'text':
      text = new TextDecoder('latin1').decode(bytes).replace(/\0+$/, '');
      break;
  }
  return { encoding, text, size: 1 + length };
}

/** An 8-bit text field (what BMC vendors write in practice); longer than 63 bytes is an error. */
export function encodeTypeLength(text: string): Uint8Array {
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
  if (bytes.length > 0x3f) throw new RangeError(`FRU text field longer than 63 bytes: ${text.slice(0, 20)}…`);
  return Uint8Array.from([0xc0 | bytes.length, ...bytes]);
}
