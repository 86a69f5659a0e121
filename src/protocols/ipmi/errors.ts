// Typed errors of the IPMI library. Callers match on `code`, which never changes;
// messages say what failed and never contain a password or key.
import { ProtocolError } from '../protocol-error.ts';
import { completionCodeText } from './constants.ts';

/** Base class of every error this library throws on purpose (its client's and emulator's too). */
export class IpmiError extends ProtocolError {
  override readonly name: string = 'IpmiError';
  readonly code: string = 'IPMI_ERROR';
}

/**
 * Bytes that are not a well-formed RMCP / IPMI / RMCP+ packet (too short, bad checksum,
 * bad length, unknown class). Every decoder throws this, and nothing else, on bad input.
 */
export class IpmiDecodeError extends IpmiError {
  override readonly name: string = 'IpmiDecodeError';
  override readonly code: string = 'IPMI_DECODE';
}

/**
 * A packet whose authentication code, integrity check value or RAKP HMAC does not verify:
 * wrong password, wrong Kg, or a forged/corrupted packet. A kind of decode error, so a
 * serve loop that counts decode errors counts these too.
 */
export class IpmiAuthenticationError extends IpmiDecodeError {
  override readonly name: string = 'IpmiAuthenticationError';
  override readonly code: string = 'IPMI_AUTH';
}

/** An argument the encoder cannot put on the wire (user name > 16 bytes, IV of wrong size, ...). */
export class IpmiEncodeError extends IpmiError {
  override readonly name: string = 'IpmiEncodeError';
  override readonly code: string = 'IPMI_ENCODE';
}

/** A response whose completion code is not 0x00 (IPMI v2.0 §5.2, table 5-2). */
export class IpmiCompletionCodeError extends IpmiError {
  override readonly name: string = 'IpmiCompletionCodeError';
  override readonly code: string = 'IPMI_COMPLETION_CODE';
  readonly completionCode: number;
  readonly netFn: number;
  readonly command: number;
  constructor(netFn: number, command: number, completionCode: number, options?: ErrorOptions) {
    const hex = (n: number) => '0x' + n.toString(16).padStart(2, '0');
    super(`IPMI command netfn ${hex(netFn)} cmd ${hex(command)} failed: ${completionCodeText(completionCode)} (${hex(completionCode)})`, options);
    this.completionCode = completionCode;
    this.netFn = netFn;
    this.command = command;
  }
}
