// anvil's TFTP package: codec, read-only server, file handlers and a small client.
export * from './constants.ts';
export * from './errors.ts';
export { ProtocolError } from '../protocol-error.ts';
export * from './codec.ts';
export * from './options.ts';
export * from './handler.ts';
export * from './root-handler.ts';
export * from './io.ts';
export { zeroCounters } from './transfer.ts';
export type { TftpCounters, TransferOutcome } from './transfer.ts';
export { TFTP_ENGINES, TFTP_ENGINE_ENV } from './native-pump.ts';
export type { TftpEngine } from './native-pump.ts';
export * from './server.ts';
export * from './client.ts';
