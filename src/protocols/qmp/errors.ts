// Typed errors of the QMP client. Callers match on `code`; a command failure keeps QEMU's own
// error class and description (qmp-spec §2.4.2).
import { ProtocolError } from '../protocol-error.ts';

export const QMP_ERROR_CODES = {
  /** QEMU answered the command with an error object. */
  command: 'QMP_COMMAND_FAILED',
  /** No connection could be made before the connect deadline. */
  connect: 'QMP_CONNECT',
  /** The connection closed (QEMU exited, or close() was called) with commands outstanding. */
  closed: 'QMP_CLOSED',
  /** No reply, or no awaited event, within the deadline. */
  timeout: 'QMP_TIMEOUT',
  /** The peer sent something that is not QMP. */
  decode: 'QMP_DECODE',
} as const;
export type QmpErrorCode = (typeof QMP_ERROR_CODES)[keyof typeof QMP_ERROR_CODES];

/** Base class of every QMP error. */
export class QmpProtocolError extends ProtocolError {
  override readonly name: string = 'QmpProtocolError';
  readonly code: QmpErrorCode;
  constructor(code: QmpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** QEMU refused or failed a command; `errorClass` is QEMU's (GenericError, CommandNotFound, DeviceNotFound, ...). */
export class QmpError extends QmpProtocolError {
  override readonly name = 'QmpError';
  readonly command: string;
  readonly errorClass: string;
  readonly desc: string;
  constructor(command: string, errorClass: string, desc: string) {
    super(QMP_ERROR_CODES.command, `QMP command '${command}' failed: ${errorClass}: ${desc}`);
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

export class QmpConnectError extends QmpProtocolError {
  override readonly name = 'QmpConnectError';
  readonly path: string;
  constructor(path: string, attempts: number, cause: unknown) {
    const reason = (cause as { code?: string })?.code ?? (cause as Error)?.message ?? 'unknown error';
    super(
      QMP_ERROR_CODES.connect,
      `cannot connect to QMP socket ${path} after ${attempts} attempt(s) (${reason}); is QEMU running with -qmp unix:${path},server=on?`,
      { cause },
    );
    this.path = path;
  }
}

export class QmpClosedError extends QmpProtocolError {
  override readonly name = 'QmpClosedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(QMP_ERROR_CODES.closed, message, options);
  }
}

export class QmpTimeoutError extends QmpProtocolError {
  override readonly name = 'QmpTimeoutError';
  constructor(message: string) {
    super(QMP_ERROR_CODES.timeout, message);
  }
}

export class QmpDecodeError extends QmpProtocolError {
  override readonly name = 'QmpDecodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(QMP_ERROR_CODES.decode, message, options);
  }
}
