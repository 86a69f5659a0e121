// Typed errors of the Redfish client and emulator. Callers match on `code`; messages name the
// service (its URL) and what to do, never a password or a session token.
import { ProtocolError } from '../protocol-error.ts';

export const REDFISH_ERROR_CODES = {
  /** No connection: wrong address or port, BMC down. */
  connect: 'REDFISH_CONNECT',
  /** No answer within the deadline. */
  timeout: 'REDFISH_TIMEOUT',
  /** The certificate did not verify or did not match the pinned one. */
  tls: 'REDFISH_TLS',
  /** 401 or 403: the credentials are wrong or lack the privilege. */
  auth: 'REDFISH_AUTH',
  /** Any other 4xx/5xx, with the service's @Message.ExtendedInfo. */
  http: 'REDFISH_HTTP',
  /** Not JSON, too large, or lacking a property the specification requires. */
  protocol: 'REDFISH_PROTOCOL',
  /** The service does not offer it (a ResetType, a boot target, virtual media). */
  unsupported: 'REDFISH_UNSUPPORTED',
  /** A task ended in an exception, or its monitor never ended. */
  task: 'REDFISH_TASK',
  /** Bad input from the caller (a path that is not the service's, an unknown value). */
  invalid: 'REDFISH_INVALID',
} as const;
export type RedfishErrorCode = (typeof REDFISH_ERROR_CODES)[keyof typeof REDFISH_ERROR_CODES];

/** One message of a Redfish error body (DSP0266 §9.6 "Error responses"; Message.v1 schema). */
export interface RedfishMessage {
  readonly messageId: string;
  readonly message: string;
  readonly resolution?: string;
}

/** Base class of every error the Redfish client, codec and emulator throw on purpose. */
export class RedfishError extends ProtocolError {
  override readonly name: string = 'RedfishError';
  readonly code: RedfishErrorCode;
  constructor(code: RedfishErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The service answered with an error status; `messages` are its @Message.ExtendedInfo. */
export class RedfishHttpError extends RedfishError {
  override readonly name: string = 'RedfishHttpError';
  readonly status: number;
  readonly messages: readonly RedfishMessage[];
  constructor(code: RedfishErrorCode, service: string, method: string, path: string, status: number, messages: readonly RedfishMessage[]) {
    const said = messages.length > 0 ? `: ${messages.map((m) => `${m.message}${m.resolution ? ` (${m.resolution})` : ''} [${m.messageId}]`).join('; ')}` : '';
    const hint = status === 401 ? '; check the user name and password' : status === 403 ? '; the account lacks the privilege' : '';
    super(code, `Redfish ${service} answered ${method} ${path} with HTTP ${status}${said}${hint}`);
    this.status = status;
    this.messages = messages;
  }
}

export class RedfishAuthError extends RedfishHttpError {
  override readonly name = 'RedfishAuthError';
  constructor(service: string, method: string, path: string, status: number, messages: readonly RedfishMessage[]) {
    super(REDFISH_ERROR_CODES.auth, service, method, path, status, messages);
  }
}

/** The service does not offer what was asked; says what it does offer. */
export class RedfishUnsupportedError extends RedfishError {
  override readonly name = 'RedfishUnsupportedError';
  constructor(message: string) {
    super(REDFISH_ERROR_CODES.unsupported, message);
  }
}

/** An answer that is not the JSON the specification promises. */
export class RedfishProtocolError extends RedfishError {
  override readonly name = 'RedfishProtocolError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(REDFISH_ERROR_CODES.protocol, message, options);
  }
}
