// The IPMI message inside a session: addresses, netfn/LUN, sequence, command, data and the
// two two's-complement checksums (IPMI v2.0 §13.8, figure 13-4; IPMB v1.0 §2.2).
import { ByteReader } from './bytes.ts';
import { BMC_SLAVE_ADDRESS, REMOTE_CONSOLE_SOFTWARE_ID } from './constants.ts';
import { IpmiDecodeError, IpmiEncodeError } from './errors.ts';

/** Smallest message: rsAddr, netFn/LUN, chk1, rqAddr, rqSeq/LUN, cmd, chk2. */
export const MIN_MESSAGE_LENGTH = 7;
/** The requester sequence number is 6 bits (IPMI v2.0 §5.4). */
export const MAX_REQUEST_SEQUENCE = 0x3f;

export interface IpmiRequest {
  readonly netFn: number;
  readonly command: number;
  readonly data: Uint8Array;
  /** 6-bit requester sequence number, echoed by the response; 0 when omitted. */
  readonly sequence?: number;
  /** Responder address; default the BMC, 0x20. */
  readonly rsAddr?: number;
  /** Requester address; default remote console software, 0x81. */
  readonly rqAddr?: number;
  readonly rsLun?: number;
  readonly rqLun?: number;
}

export interface IpmiResponse {
  /** The response netfn (odd): request netfn + 1. */
  readonly netFn: number;
  readonly command: number;
  readonly completionCode: number;
  readonly data: Uint8Array;
  readonly sequence?: number;
  readonly rsAddr?: number;
  readonly rqAddr?: number;
  readonly rsLun?: number;
  readonly rqLun?: number;
}

/** Two's-complement checksum: the bytes plus the checksum sum to 0 mod 256 (IPMB v1.0 §2.2). */
export function checksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + (bytes[i] as number)) & 0xff;
  return (0x100 - sum) & 0xff;
}

function frame(addr1: number, netFnLun: number, addr2: number, seqLun: number, command: number, body: Uint8Array): Buffer {
  const out = Buffer.alloc(MIN_MESSAGE_LENGTH + body.length);
  out[0] = addr1;
  out[1] = netFnLun;
  out[2] = checksum(out, 0, 2);
  out[3] = addr2;
  out[4] = seqLun;
  out[5] = command;
  out.set(body, 6);
  out[out.length - 1] = checksum(out, 3, out.length - 1);
  return out;
}

function checkFields(netFn: number, command: number, sequence: number): void {
  if (!Number.isInteger(netFn) || netFn < 0 || netFn > 0x3f) throw new IpmiEncodeError(`netfn ${netFn} is not 0..0x3f`);
  if (!Number.isInteger(command) || command < 0 || command > 0xff) throw new IpmiEncodeError(`command ${command} is not 0..0xff`);
  if (!Number.isInteger(sequence) || sequence < 0 || sequence > MAX_REQUEST_SEQUENCE) throw new IpmiEncodeError(`sequence ${sequence} is not 0..63`);
}

/** Encodes a request message (console → BMC). */
export function encodeRequest(req: IpmiRequest): Buffer {
  const seq = req.sequence ?? 0;
  checkFields(req.netFn, req.command, seq);
  return frame(
    req.rsAddr ?? BMC_SLAVE_ADDRESS,
    (req.netFn << 2) | ((req.rsLun ?? 0) & 3),
    req.rqAddr ?? REMOTE_CONSOLE_SOFTWARE_ID,
    (seq << 2) | ((req.rqLun ?? 0) & 3),
    req.command,
    req.data,
  );
}

/** Encodes a response message (BMC → console); the completion code is the first data byte on the wire. */
export function encodeResponse(res: IpmiResponse): Buffer {
  const seq = res.sequence ?? 0;
  checkFields(res.netFn, res.command, seq);
  const body = Buffer.alloc(1 + res.data.length);
  body[0] = res.completionCode & 0xff;
  body.set(res.data, 1);
  return frame(
    res.rqAddr ?? REMOTE_CONSOLE_SOFTWARE_ID,
    (res.netFn << 2) | ((res.rqLun ?? 0) & 3),
    res.rsAddr ?? BMC_SLAVE_ADDRESS,
    (seq << 2) | ((res.rsLun ?? 0) & 3),
    res.command,
    body,
  );
}

/** Builds the response to a request: netfn + 1, same command and sequence, addresses swapped. */
export function responseTo(req: IpmiRequest, completionCode: number, data: Uint8Array = Buffer.alloc(0)): IpmiResponse {
  return {
    netFn: req.netFn | 1,
    command: req.command,
    completionCode,
    data,
    sequence: req.sequence ?? 0,
    rsAddr: req.rsAddr ?? BMC_SLAVE_ADDRESS,
    rqAddr: req.rqAddr ?? REMOTE_CONSOLE_SOFTWARE_ID,
    rsLun: req.rsLun ?? 0,
    rqLun: req.rqLun ?? 0,
  };
}

function verify(bytes: Uint8Array, what: string): void {
  if (bytes.length < MIN_MESSAGE_LENGTH) throw new IpmiDecodeError(`${what}: ${bytes.length} bytes is shorter than the minimum ${MIN_MESSAGE_LENGTH}`);
  if (checksum(bytes, 0, 3) !== 0) throw new IpmiDecodeError(`${what}: header checksum mismatch`);
  if (checksum(bytes, 3, bytes.length) !== 0) throw new IpmiDecodeError(`${what}: data checksum mismatch`);
}

/** Decodes a request message. Throws IpmiDecodeError on short input or a bad checksum. */
export function decodeRequest(bytes: Uint8Array): Required<IpmiRequest> {
  verify(bytes, 'IPMI request');
  const r = new ByteReader(bytes, 'IPMI request');
  const rsAddr = r.u8();
  const netFnLun = r.u8();
  r.u8();
  const rqAddr = r.u8();
  const seqLun = r.u8();
  const command = r.u8();
  const data = r.bytes(r.remaining - 1);
  return { rsAddr, netFn: netFnLun >> 2, rsLun: netFnLun & 3, rqAddr, sequence: seqLun >> 2, rqLun: seqLun & 3, command, data };
}

/** Decodes a response message. Throws IpmiDecodeError on short input, bad checksum or missing completion code. */
export function decodeResponse(bytes: Uint8Array): Required<IpmiResponse> {
  verify(bytes, 'IPMI response');
  if (bytes.length < MIN_MESSAGE_LENGTH + 1) throw new IpmiDecodeError('IPMI response: no completion code');
  const r = new ByteReader(bytes, 'IPMI response');
  const rqAddr = r.u8();
  const netFnLun = r.u8();
  r.u8();
  const rsAddr = r.u8();
  const seqLun = r.u8();
  const command = r.u8();
  const completionCode = r.u8();
  const data = r.bytes(r.remaining - 1);
  return { rqAddr, netFn: netFnLun >> 2, rqLun: netFnLun & 3, rsAddr, sequence: seqLun >> 2, rsLun: seqLun & 3, command, completionCode, data };
}
