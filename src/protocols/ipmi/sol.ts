// Serial-over-LAN payload (payload type 1) packets (IPMI v2.0 §15.9, table 15-2).
import { ByteReader } from './bytes.ts';
import { IpmiEncodeError } from './errors.ts';

/** SOL sequence numbers are 4 bits; 0 means "no data, acknowledge only" (§15.9). */
export const SOL_MAX_SEQUENCE = 0x0f;
export const SOL_HEADER_LENGTH = 4;

/** Status bits of BMC → console packets (§15.9, table 15-2, byte 4). */
export const SolStatus = { NACK: 0x40, TRANSFER_UNAVAILABLE: 0x20, DEACTIVATED: 0x10, TX_OVERRUN: 0x08, BREAK: 0x04 } as const;
/** Operation bits of console → BMC packets (§15.9, byte 4). */
export const SolOperation = {
  NACK: 0x40,
  RING_WOR: 0x20,
  GENERATE_BREAK: 0x10,
  DEASSERT_CTS: 0x08,
  DEASSERT_DCD_DSR: 0x04,
  FLUSH_INBOUND: 0x02,
  FLUSH_OUTBOUND: 0x01,
} as const;

export interface SolPacket {
  /** 1..15 for packets with data; 0 for ack-only packets. */
  readonly sequence: number;
  /** The sequence being acknowledged, 0 when none. */
  readonly ackSequence: number;
  /** Characters of the acknowledged packet that were accepted. */
  readonly acceptedCount: number;
  /** Status (BMC → console) or operation (console → BMC) bits. */
  readonly flags: number;
  readonly data: Buffer;
}

export function encodeSol(p: SolPacket): Buffer {
  if (p.sequence > SOL_MAX_SEQUENCE || p.ackSequence > SOL_MAX_SEQUENCE) throw new IpmiEncodeError('SOL sequence numbers are 0..15');
  return Buffer.concat([Buffer.from([p.sequence, p.ackSequence, p.acceptedCount & 0xff, p.flags & 0xff]), p.data]);
}

export function decodeSol(payload: Uint8Array): SolPacket {
  const r = new ByteReader(payload, 'SOL payload');
  return { sequence: r.u8() & SOL_MAX_SEQUENCE, ackSequence: r.u8() & SOL_MAX_SEQUENCE, acceptedCount: r.u8(), flags: r.u8(), data: r.rest() };
}

/** The sequence number after `n` (1..15, skipping 0, which means ack-only). */
export function nextSolSequence(n: number): number {
  return (n % SOL_MAX_SEQUENCE) + 1;
}
