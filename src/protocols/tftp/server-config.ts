// What a TftpServer is built with: its options and events, the options checked against the
// RFC ranges when the server is constructed rather than on the first packet (RFC 2348
// blksize, RFC 7440 windowsize, RFC 2349 timeout), and the TftpBindError a failed listen
// becomes, saying what to do. server.ts takes requests and starts transfers.
import {
  DEFAULT_BUSY_POLL_MICROSECONDS,
  DEFAULT_MAX_BLOCK_SIZE,
  DEFAULT_MAX_CLIENT_TIMEOUT_SECONDS,
  DEFAULT_MAX_RETRIES,
  DEFAULT_MAX_TRANSFERS,
  DEFAULT_MAX_WINDOW_SIZE,
  DEFAULT_OPEN_TIMEOUT_MS,
  DEFAULT_RETRANSMIT_TIMEOUT_MS,
  MAX_BLOCK_SIZE,
  MAX_BUSY_POLL_MICROSECONDS,
  MAX_TIMEOUT_SECONDS,
  MAX_WINDOW_SIZE,
  MIN_BLOCK_SIZE,
  MIN_TIMEOUT_SECONDS,
  MIN_WINDOW_SIZE,
  TFTP_PORT,
} from './constants.ts';
import type { ErrorCode } from './constants.ts';
import { TftpBindError, TftpConfigError } from './errors.ts';
import type { TftpFileHandler } from './handler.ts';
import type { Clock, Endpoint, SocketFactory } from './io.ts';
import type { TftpEngine } from './native-pump.ts';
import type { TransferOutcome } from './transfer.ts';

export type TftpServerOptions = {
  readonly handler: TftpFileHandler;
  /** Address to listen on; default 0.0.0.0. */
  readonly host?: string;
  /** Default 69; 0 picks a free port (tests). */
  readonly port?: number;
  /** blksize cap (RFC 2348); default DEFAULT_MAX_BLOCK_SIZE (1468, no IP fragmentation on Ethernet). */
  readonly maxBlockSize?: number;
  /** windowsize cap (RFC 7440); default DEFAULT_MAX_WINDOW_SIZE. */
  readonly maxWindowSize?: number;
  /** Retransmission timeout when the client sends no timeout option; default 1 s. */
  readonly retransmitTimeoutMs?: number;
  /** Longest client timeout option accepted (RFC 2349); default 60 s, see DEFAULT_MAX_CLIENT_TIMEOUT_SECONDS. */
  readonly maxClientTimeoutSeconds?: number;
  /** Retransmissions before a transfer is abandoned; default 5. */
  readonly maxRetries?: number;
  /** Longest wait for the handler's open(); default 10 s. */
  readonly openTimeoutMs?: number;
  /** Concurrent transfers; further requests are dropped, and clients retry. Default 1000. */
  readonly maxTransfers?: number;
  /**
   * Who runs transfers' DATA/ACK phase: `js` (transfer.ts), `native` (the pump, native-pump.ts;
   * an error if it is not built), or `auto`, the default (see choosePump). ANVIL_TFTP_ENGINE
   * sets it when this does not. Files without a `source` are always served by the JS engine.
   */
  readonly engine?: TftpEngine;
  /** The native pump's busy-poll before it sleeps, in µs; 0 never polls. Default DEFAULT_BUSY_POLL_MICROSECONDS. */
  readonly busyPollMicroseconds?: number;
  readonly socketFactory?: SocketFactory;
  readonly clock?: Clock;
  /** Per-request and per-transfer events, for logs. Must not throw. */
  readonly onEvent?: (event: TftpServerEvent) => void;
};

export type TftpServerEvent =
  | {
      readonly type: 'transfer-start';
      readonly client: Endpoint;
      readonly path: string;
      readonly size: number | undefined;
      readonly blockSize: number;
      readonly windowSize: number;
    }
  | {
      readonly type: 'transfer-end';
      readonly client: Endpoint;
      readonly path: string;
      readonly outcome: TransferOutcome;
      readonly bytes: number;
      readonly durationMs: number;
    }
  | { readonly type: 'request-refused'; readonly client: Endpoint; readonly path: string; readonly errorCode: ErrorCode; readonly message: string }
  | { readonly type: 'malformed' | 'stray'; readonly client: Endpoint; readonly detail: string }
  | { readonly type: 'busy'; readonly client: Endpoint; readonly path: string }
  | { readonly type: 'handler-error'; readonly client: Endpoint; readonly path: string; readonly error: unknown };

/** The numeric options, defaulted and checked. */
export interface TftpServerConfig {
  readonly host: string;
  readonly port: number;
  readonly maxBlockSize: number;
  readonly maxWindowSize: number;
  /** Retransmission timeout when the client sends no timeout option. */
  readonly timeoutMs: number;
  readonly maxClientTimeoutSeconds: number;
  readonly openTimeoutMs: number;
  readonly maxRetries: number;
  readonly maxTransfers: number;
  readonly busyPollMicroseconds: number;
}

/** The options' values with their defaults; throws TftpConfigError for the first one out of range. */
export function checkedConfig(options: TftpServerOptions): TftpServerConfig {
  return {
    host: options.host ?? '0.0.0.0',
    port: checkRange('port', options.port ?? TFTP_PORT, 0, 65535),
    maxBlockSize: checkRange('maxBlockSize', options.maxBlockSize ?? DEFAULT_MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, MAX_BLOCK_SIZE),
    maxWindowSize: checkRange('maxWindowSize', options.maxWindowSize ?? DEFAULT_MAX_WINDOW_SIZE, MIN_WINDOW_SIZE, MAX_WINDOW_SIZE),
    timeoutMs: checkRange('retransmitTimeoutMs', options.retransmitTimeoutMs ?? DEFAULT_RETRANSMIT_TIMEOUT_MS, 1, MAX_TIMEOUT_SECONDS * 1000),
    maxClientTimeoutSeconds: checkRange(
      'maxClientTimeoutSeconds',
      options.maxClientTimeoutSeconds ?? DEFAULT_MAX_CLIENT_TIMEOUT_SECONDS,
      MIN_TIMEOUT_SECONDS,
      MAX_TIMEOUT_SECONDS,
    ),
    openTimeoutMs: checkRange('openTimeoutMs', options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS, 1, 3_600_000),
    maxRetries: checkRange('maxRetries', options.maxRetries ?? DEFAULT_MAX_RETRIES, 0, 1000),
    maxTransfers: checkRange('maxTransfers', options.maxTransfers ?? DEFAULT_MAX_TRANSFERS, 1, 1_000_000),
    busyPollMicroseconds: checkRange('busyPollMicroseconds', options.busyPollMicroseconds ?? DEFAULT_BUSY_POLL_MICROSECONDS, 0, MAX_BUSY_POLL_MICROSECONDS),
  };
}

function checkRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TftpConfigError(`TFTP server option ${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
  return value;
}

export function bindError(error: unknown, host: string, port: number): TftpBindError {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  if (code === 'EACCES' || code === 'EPERM') {
    return new TftpBindError(
      'TFTP_BIND_DENIED',
      `cannot listen for TFTP on UDP ${where}: ports below 1024 need privilege. Run anvil as root, ` +
        `or grant node the capability (sudo setcap cap_net_bind_service=+ep ${process.execPath}), ` +
        `or listen on an unprivileged port (--tftp 0.0.0.0:6969) and redirect 69 to it, since PXE firmware always asks port 69`,
      { cause: error },
    );
  }
  if (code === 'EADDRINUSE') {
    return new TftpBindError(
      'TFTP_ADDRESS_IN_USE',
      `cannot listen for TFTP on UDP ${where}: another server (tftpd-hpa, dnsmasq --enable-tftp?) already uses it; stop it or choose another --tftp address`,
      { cause: error },
    );
  }
  return new TftpBindError('TFTP_BIND_FAILED', `cannot listen for TFTP on UDP ${where}: ${(error as Error).message}`, { cause: error });
}
