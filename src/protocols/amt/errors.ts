// Typed errors of the AMT clients. Callers match on `code`; messages name the machine
// (host and user) and what to do, never the password. The XML, SOAP and WS-Man shape errors
// of the codecs (xml.ts, soap-codec.ts, emulator/wsman-messages.ts) are AmtErrors too.
import { ProtocolError } from '../protocol-error.ts';

export const AMT_ERROR_CODES = {
  auth: 'AMT_AUTH',
  connect: 'AMT_CONNECT',
  tls: 'AMT_TLS',
  failure: 'AMT_FAILURE',
  protocol: 'AMT_PROTOCOL',
  unsupported: 'AMT_UNSUPPORTED',
  timeout: 'AMT_TIMEOUT',
  /** Not well-formed XML, too long, or with a DOCTYPE (xml.ts). */
  xml: 'AMT_XML',
  /** XML, but not a SOAP request or response (soap-codec.ts). */
  soapShape: 'AMT_SOAP_SHAPE',
  /** XML, but not a WS-Man request (emulator/wsman-messages.ts). */
  wsmanShape: 'AMT_WSMAN_SHAPE',
} as const;
export type AmtErrorCode = (typeof AMT_ERROR_CODES)[keyof typeof AMT_ERROR_CODES];

/** Base class of every error the AMT clients, codecs and emulator throw on purpose. */
export class AmtError extends ProtocolError {
  override readonly name: string = 'AmtError';
  readonly code: AmtErrorCode;
  constructor(code: AmtErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The AMT answered 401 to a digest-authenticated request: wrong user or password. */
export class AmtAuthError extends AmtError {
  override readonly name = 'AmtAuthError';
  readonly host: string;
  readonly user: string;
  constructor(host: string, user: string) {
    super(
      AMT_ERROR_CODES.auth,
      `AMT ${host} rejected the credentials of user '${user}' (HTTP 401 after digest authentication); check the user name and AMT password`,
    );
    this.host = host;
    this.user = user;
  }
}

/** How long a request was tried before it was given up: what a timeout or connect error says. */
export interface AmtAttempts {
  /** Attempts made (the first one included). */
  readonly attempts: number;
  /** Time from the first attempt to giving up, retry waits included. */
  readonly elapsedMs: number;
  /** The bound each attempt had (connect timeout or request timeout), before the deadline cut it. */
  readonly perAttemptMs?: number;
  /** The overall deadline, when it is what ended the retries. */
  readonly deadlineMs?: number;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** "3 attempts of up to 20000 ms each, 62.4 s in all (the overall deadline of 60 s ended the retries)". */
function attemptsText(a: AmtAttempts): string {
  const each = a.perAttemptMs === undefined ? '' : ` of up to ${a.perAttemptMs} ms each`;
  const deadline = a.deadlineMs === undefined ? '' : ` (the overall deadline of ${seconds(a.deadlineMs)} ended the retries)`;
  return `${a.attempts} attempt${a.attempts === 1 ? '' : 's'}${each}, ${seconds(a.elapsedMs)} in all${deadline}`;
}

/** No connection could be made, after every retry: AMT off the network, asleep, or the wrong port. */
export class AmtConnectError extends AmtError {
  override readonly name = 'AmtConnectError';
  readonly attempts: number;
  readonly elapsedMs: number;
  constructor(host: string, tried: AmtAttempts, cause: unknown) {
    const reason = (cause as { code?: string; message?: string })?.code ?? (cause as Error)?.message ?? 'unknown error';
    super(
      AMT_ERROR_CODES.connect,
      `cannot reach AMT ${host} (${reason}) after ${attemptsText(tried)}; check the address and port, that AMT is provisioned and the machine is plugged in`,
      { cause },
    );
    this.attempts = tried.attempts;
    this.elapsedMs = tried.elapsedMs;
  }
}

/** The TLS handshake failed or the certificate was refused. */
export class AmtTlsError extends AmtError {
  override readonly name = 'AmtTlsError';
  constructor(host: string, detail: string, cause?: unknown) {
    super(AMT_ERROR_CODES.tls, `TLS to AMT ${host} failed: ${detail}`, { cause });
  }
}

/**
 * A request was sent but no answer came in time, after every retry the request allowed (none
 * for actions that are not idempotent); the message gives the attempts and the real total.
 */
export class AmtTimeoutError extends AmtError {
  override readonly name = 'AmtTimeoutError';
  readonly attempts: number;
  readonly elapsedMs: number;
  constructor(host: string, tried: AmtAttempts) {
    super(AMT_ERROR_CODES.timeout, `AMT ${host} did not answer: ${attemptsText(tried)}; check that AMT is enabled and not hung`);
    this.attempts = tried.attempts;
    this.elapsedMs = tried.elapsedMs;
  }
}

/** AMT understood the request and refused it: a SOAP fault, ReturnValue != 0, or PT_STATUS != 0. */
export class AmtFailure extends AmtError {
  override readonly name = 'AmtFailure';
  /** ReturnValue (WS-Man) or PT_STATUS (legacy SOAP), when the failure carried one. */
  readonly returnValue: number | undefined;
  /** The SOAP fault subcode (e.g. wsman:AccessDenied), when it was a fault. */
  readonly faultCode: string | undefined;
  constructor(host: string, what: string, detail: { returnValue?: number; faultCode?: string; reason?: string }) {
    const parts = [detail.returnValue !== undefined ? `ReturnValue ${detail.returnValue}` : undefined, detail.faultCode, detail.reason].filter(
      (p) => p !== undefined && p !== '',
    );
    super(AMT_ERROR_CODES.failure, `AMT ${host} refused ${what}: ${parts.join(', ') || 'no reason given'}`);
    this.returnValue = detail.returnValue;
    this.faultCode = detail.faultCode;
  }
}

/** The answer was not what the protocol allows: not XML, wrong shape, unexpected HTTP status. */
export class AmtProtocolError extends AmtError {
  override readonly name = 'AmtProtocolError';
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super(AMT_ERROR_CODES.protocol, message, options);
    this.status = status;
  }
}

/** The machine (or the protocol in use) cannot do what was asked. */
export class AmtUnsupportedError extends AmtError {
  override readonly name = 'AmtUnsupportedError';
  constructor(message: string) {
    super(AMT_ERROR_CODES.unsupported, message);
  }
}
