// Typed errors of the TFTP package. Callers match on `code`; protocol code imports
// nothing from the rest of anvil, so these extend only the protocols' own base.
import { ProtocolError } from '../protocol-error.ts';

export type TftpErrorCode =
  | 'TFTP_MALFORMED_PACKET'
  | 'TFTP_ACCESS_DENIED'
  | 'TFTP_BIND_DENIED'
  | 'TFTP_ADDRESS_IN_USE'
  | 'TFTP_BIND_FAILED'
  | 'TFTP_REMOTE_ERROR'
  | 'TFTP_TIMEOUT'
  | 'TFTP_INVALID_OPTION';

/** Base class of every error this package throws on purpose; each subclass fixes its code. */
export abstract class TftpError extends ProtocolError {
  abstract override readonly code: TftpErrorCode;
}

export type DecodeReason =
  | 'truncated'
  | 'unknown-opcode'
  | 'unterminated-string'
  | 'invalid-utf8'
  | 'empty-filename'
  | 'unknown-mode'
  | 'odd-options'
  | 'empty-option-name'
  | 'too-many-options';

/** A packet that is not valid TFTP. A server logs and counts it, and its loop goes on. */
export class TftpDecodeError extends TftpError {
  override readonly name = 'TftpDecodeError';
  readonly code = 'TFTP_MALFORMED_PACKET';
  readonly reason: DecodeReason;

  constructor(reason: DecodeReason, message: string) {
    super(`malformed TFTP packet: ${message}`);
    this.reason = reason;
  }
}

/**
 * Thrown by a file handler to refuse a path (traversal, a symlink out of the root,
 * a NUL byte). The server answers with error 2, access violation.
 */
export class TftpAccessDeniedError extends TftpError {
  override readonly name = 'TftpAccessDeniedError';
  readonly code = 'TFTP_ACCESS_DENIED';
  readonly path: string;

  constructor(path: string, why: string) {
    super(`TFTP access to ${JSON.stringify(path)} denied: ${why}`);
    this.path = path;
  }
}

/** The server could not bind its listening socket. */
export class TftpBindError extends TftpError {
  override readonly name = 'TftpBindError';
  readonly code: 'TFTP_BIND_DENIED' | 'TFTP_ADDRESS_IN_USE' | 'TFTP_BIND_FAILED';

  constructor(code: TftpBindError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The peer answered with an ERROR packet (RFC 1350 §5). `errorCode` is its TFTP error code. */
export class TftpRemoteError extends TftpError {
  override readonly name = 'TftpRemoteError';
  readonly code = 'TFTP_REMOTE_ERROR';
  readonly errorCode: number;

  constructor(errorCode: number, message: string) {
    super(`TFTP peer answered error ${errorCode}: ${message}`);
    this.errorCode = errorCode;
  }
}

/** The peer stopped answering: retries were spent. */
export class TftpTimeoutError extends TftpError {
  override readonly name = 'TftpTimeoutError';
  readonly code = 'TFTP_TIMEOUT';
}

/** A server or client option out of range, found when it is constructed rather than on the first packet. */
export class TftpConfigError extends TftpError {
  override readonly name = 'TftpConfigError';
  readonly code = 'TFTP_INVALID_OPTION';
}
