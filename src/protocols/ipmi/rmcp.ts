// RMCP, the UDP envelope of every IPMI-over-LAN packet, and ASF presence ping/pong
// (ASF 2.0 §3.2; IPMI v2.0 §13.1–§13.3). Pure: bytes in, values out.
import { ByteReader } from './bytes.ts';
import { ASF_IANA, AsfMessageType, RmcpClass } from './constants.ts';
import { IpmiDecodeError } from './errors.ts';

/** RMCP version 1.0 (ASF 2.0 §3.2.2.1). */
export const RMCP_VERSION = 0x06;
/** Sequence number meaning "do not acknowledge"; IPMI messages always use it (IPMI v2.0 §13.1.2). */
export const RMCP_NO_ACK = 0xff;
/** Length of the RMCP header. */
export const RMCP_HEADER_LENGTH = 4;

/** First byte after the RMCP header of an IPMI packet: 0x06 means RMCP+ (IPMI 2.0) framing (§13.6). */
export const RMCP_PLUS_AUTH_TYPE = 0x06;

export type RmcpClassName = 'asf' | 'ipmi';

export interface RmcpPacket {
  readonly cls: RmcpClassName;
  readonly sequence: number;
  /** Bit 7 of the class byte: this is an RMCP acknowledge, not data (ASF 2.0 §3.2.2.3). */
  readonly ack: boolean;
  /** Everything after the 4-byte header: a view of the datagram's bytes, not a copy. */
  readonly body: Buffer;
}

/** Prefixes a body with the RMCP header (sequence 0xFF: IPMI never asks for RMCP acks). */
export function encodeRmcp(cls: RmcpClassName, body: Uint8Array, sequence = RMCP_NO_ACK): Buffer {
  const out = Buffer.allocUnsafe(RMCP_HEADER_LENGTH + body.length);
  writeRmcpHeader(out, cls, sequence);
  out.set(body, RMCP_HEADER_LENGTH);
  return out;
}

/** Writes the 4-byte RMCP header at the start of `out`, for encoders that build a whole datagram in one buffer. */
export function writeRmcpHeader(out: Uint8Array, cls: RmcpClassName, sequence = RMCP_NO_ACK): void {
  out[0] = RMCP_VERSION;
  out[1] = 0x00;
  out[2] = sequence;
  out[3] = cls === 'asf' ? RmcpClass.ASF : RmcpClass.IPMI;
}

/** Splits an RMCP datagram into header fields and body. Throws IpmiDecodeError. */
export function decodeRmcp(packet: Uint8Array): RmcpPacket {
  const r = new ByteReader(packet, 'RMCP header');
  const version = r.u8();
  r.u8();
  const sequence = r.u8();
  const clsByte = r.u8();
  if (version !== RMCP_VERSION) r.fail(`unsupported RMCP version 0x${version.toString(16)}`);
  const classId = clsByte & 0x0f;
  let cls: RmcpClassName;
  if (classId === RmcpClass.ASF) cls = 'asf';
  else if (classId === RmcpClass.IPMI) cls = 'ipmi';
  else throw new IpmiDecodeError(`RMCP header: unsupported message class 0x${clsByte.toString(16)}`);
  // A view, not a copy: decoders read the body once, and every datagram would pay for the copy.
  const body = Buffer.from(packet.buffer, packet.byteOffset + RMCP_HEADER_LENGTH, packet.length - RMCP_HEADER_LENGTH);
  return { cls, sequence, ack: (clsByte & 0x80) !== 0, body };
}

/** True when an IPMI-class RMCP body uses RMCP+ (IPMI 2.0) session framing rather than IPMI 1.5. */
export function isRmcpPlus(body: Uint8Array): boolean {
  return body[0] === RMCP_PLUS_AUTH_TYPE;
}

/** An ASF presence ping or pong (ASF 2.0 §3.2.4.2, §3.2.4.3). */
export type AsfMessage =
  | { readonly type: 'ping'; readonly tag: number }
  | {
      readonly type: 'pong';
      readonly tag: number;
      readonly iana: number;
      readonly oem: number;
      /** Bit 7: IPMI supported; bits 3:0: ASF version (1 = ASF 1.0). */
      readonly supportedEntities: number;
      readonly supportedInteractions: number;
    };

/** The pong of a BMC that speaks IPMI: entities bit 7 = IPMI supported, version ASF 1.0 (ASF 2.0 §3.2.4.3). */
export const ASF_PONG_ENTITIES_IPMI = 0x81;

/** Encodes an ASF ping or pong, RMCP header included. The pong's sequence echoes the ping's. */
export function encodeAsf(message: AsfMessage, sequence = RMCP_NO_ACK): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(ASF_IANA, 0);
  head[4] = message.type === 'ping' ? AsfMessageType.PRESENCE_PING : AsfMessageType.PRESENCE_PONG;
  head[5] = message.tag & 0xff;
  head[6] = 0;
  if (message.type === 'ping') {
    head[7] = 0;
    return encodeRmcp('asf', head, sequence);
  }
  head[7] = 16;
  const data = Buffer.alloc(16);
  data.writeUInt32BE(message.iana >>> 0, 0);
  data.writeUInt32BE(message.oem >>> 0, 4);
  data[8] = message.supportedEntities & 0xff;
  data[9] = message.supportedInteractions & 0xff;
  return encodeRmcp('asf', Buffer.concat([head, data]), sequence);
}

/** Decodes the body of an ASF-class RMCP packet. Throws IpmiDecodeError on anything but ping/pong. */
export function decodeAsf(body: Uint8Array): AsfMessage {
  const r = new ByteReader(body, 'ASF message');
  const iana = r.u32be();
  const type = r.u8();
  const tag = r.u8();
  r.u8();
  const length = r.u8();
  if (iana !== ASF_IANA) r.fail(`unexpected IANA number ${iana}`);
  if (type === AsfMessageType.PRESENCE_PING) return { type: 'ping', tag };
  if (type !== AsfMessageType.PRESENCE_PONG) r.fail(`unsupported ASF message type 0x${type.toString(16)}`);
  if (length < 10) r.fail(`pong data length ${length} < 10`);
  const data = new ByteReader(r.bytes(length), 'ASF pong');
  return { type: 'pong', tag, iana: data.u32be(), oem: data.u32be(), supportedEntities: data.u8(), supportedInteractions: data.u8() };
}
