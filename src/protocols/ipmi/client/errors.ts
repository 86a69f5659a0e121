// Errors the IPMI client throws, each with a stable `code`. Every message names the BMC
// (host:port) and, for login failures, the user; none ever contains a password or Kg.
import { completionCodeText, rmcpPlusStatusText } from '../constants.ts';
import { IpmiCompletionCodeError, IpmiError } from '../errors.ts';

/** No (usable) answer within the configured timeout and retries. */
export class IpmiTimeoutError extends IpmiError {
  override readonly name: string = 'IpmiTimeoutError';
  override readonly code: string = 'IPMI_TIMEOUT';
  readonly host: string;
  readonly attempts: number;
  constructor(host: string, what: string, attempts: number, options?: ErrorOptions) {
    super(`${host}: no answer to ${what} after ${attempts} attempt(s); check the address, port and that the BMC is powered and reachable`, options);
    this.host = host;
    this.attempts = attempts;
  }
}

/**
 * A non-idempotent command (chassis control, BMC reset) whose answer was lost. It was
 * sent once and not resent, because a second copy could act twice; it may or may not
 * have been executed, so the caller must check the machine's state.
 */
export class IpmiUncertainError extends IpmiTimeoutError {
  override readonly name: string = 'IpmiUncertainError';
  override readonly code: string = 'IPMI_OUTCOME_UNKNOWN';
  constructor(host: string, what: string, options?: ErrorOptions) {
    super(host, what, 1, options);
    this.message = `${host}: no answer to ${what}; it was not resent because it is not safe to repeat, and may or may not have been executed`;
  }
}

/**
 * The BMC refused the user name, password or Kg (RAKP status, RAKP2 HMAC mismatch,
 * IPMI 1.5 Activate Session refusal). Never reported as a timeout.
 */
export class IpmiLoginError extends IpmiError {
  override readonly name: string = 'IpmiLoginError';
  override readonly code: string = 'IPMI_AUTH_FAILED';
  readonly host: string;
  readonly user: string;
  constructor(host: string, user: string, reason: string, options?: ErrorOptions) {
    super(`${host}: login as '${user}' failed: ${reason}; check the user name, password and Kg`, options);
    this.host = host;
    this.user = user;
  }
}

/** The session could not be set up for a reason other than credentials (no common cipher suite, no free session slot, ...). */
export class IpmiSessionError extends IpmiError {
  override readonly name: string = 'IpmiSessionError';
  override readonly code: string = 'IPMI_SESSION';
  readonly host: string;
  constructor(host: string, reason: string, options?: ErrorOptions) {
    super(`${host}: ${reason}`, options);
    this.host = host;
  }
}

/** An RMCP+ status code in an Open Session Response or RAKP message, in words (IPMI v2.0 §13.24). */
export function rmcpStatusReason(step: string, status: number): string {
  return `${step} answered status 0x${status.toString(16).padStart(2, '0')} (${rmcpPlusStatusText(status)})`;
}

/** A completion code other than 0x00, naming the BMC and the command, with the code in words. */
export class IpmiCommandError extends IpmiCompletionCodeError {
  override readonly name: string = 'IpmiCommandError';
  readonly host: string;
  constructor(host: string, commandName: string, netFn: number, command: number, completionCode: number) {
    super(netFn, command, completionCode);
    this.host = host;
    this.message = `${host}: ${commandName} failed: ${completionCodeText(completionCode)} (completion code 0x${completionCode.toString(16).padStart(2, '0')})`;
  }
}

/** The BMC's host name does not resolve to an IPv4 address. */
export class IpmiAddressError extends IpmiError {
  override readonly name: string = 'IpmiAddressError';
  override readonly code: string = 'IPMI_ADDRESS';
  readonly host: string;
  constructor(host: string, reason: string, options?: ErrorOptions) {
    super(`${host}: cannot resolve the BMC's address (${reason}); check the host name`, options);
    this.host = host;
  }
}

/** The client or session was closed while a request waited. */
export class IpmiClosedError extends IpmiError {
  override readonly name: string = 'IpmiClosedError';
  override readonly code: string = 'IPMI_CLOSED';
}
