// anvil's QMP client (QEMU Machine Protocol): a library of its own, importing nothing from anvil.
export { decodeMessage, encodeCommand, QmpLineSplitter, DEFAULT_MAX_LINE_BYTES } from './codec.ts';
export type { QmpEvent, QmpGreeting, QmpId, QmpMessage, QmpReturn, QmpErrorReply } from './codec.ts';
export {
  QmpClient,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_RETRY_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_GREETING_TIMEOUT_MS,
} from './client.ts';
export type { QmpClientEvents, QmpConnectOptions } from './client.ts';
export { QMP_ERROR_CODES, QmpClosedError, QmpConnectError, QmpDecodeError, QmpError, QmpProtocolError, QmpTimeoutError } from './errors.ts';
export type { QmpErrorCode } from './errors.ts';
export { ProtocolError } from '../protocol-error.ts';
