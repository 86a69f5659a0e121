// Typed errors of the DHCP library. Callers match on `code`, never on the message.
import { ProtocolError } from '../protocol-error.ts';

export type DhcpErrorCode =
  | 'DHCP_DECODE' // a packet that is not a well-formed DHCP message
  | 'DHCP_ENCODE' // a value that cannot be put on the wire
  | 'DHCP_BIND_DENIED' // no privilege to bind a port below 1024
  | 'DHCP_BIND_IN_USE' // another DHCP server already owns the port
  | 'DHCP_CONFIG' // invalid server or pool configuration
  | 'DHCP_POOL_EXHAUSTED' // server mode has no free address for a client
  | 'DHCP_SEND' // a reply could not be sent
  | 'DHCP_STORE'; // the lease store could not be read or written

/** Base class of every error this library throws on purpose. */
export class DhcpError extends ProtocolError {
  override name = 'DhcpError';
  readonly code: DhcpErrorCode;
  constructor(code: DhcpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * A received datagram that is not a DHCP message. `offset` is the byte where decoding gave up,
 * or undefined when the framing was fine but an option's value is malformed.
 */
export class DhcpDecodeError extends DhcpError {
  override name = 'DhcpDecodeError';
  readonly offset: number | undefined;
  constructor(message: string, offset?: number) {
    super('DHCP_DECODE', offset === undefined ? message : `${message} (at byte ${offset})`);
    this.offset = offset;
  }
}

/** Turns a failed bind into an error that says what to do. */
export function bindError(err: Error, address: string, port: number): DhcpError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new DhcpError(
      'DHCP_BIND_DENIED',
      `cannot bind UDP ${address}:${port}: permission denied. DHCP needs ports 67 and 4011: run anvil as root, ` +
        `or grant Node the capability once (setcap cap_net_bind_service=+ep "$(command -v node)"), ` +
        `or run with --dhcp off and point the site's DHCP server at anvil`,
      { cause: err },
    );
  }
  if (code === 'EADDRINUSE') {
    return new DhcpError(
      'DHCP_BIND_IN_USE',
      `cannot bind UDP ${address}:${port}: another DHCP server (dnsmasq, isc-dhcp-server, ...) already listens there; ` +
        `stop it, or run anvil with --dhcp off and point that server at anvil`,
      { cause: err },
    );
  }
  return new DhcpError('DHCP_CONFIG', `cannot bind UDP ${address}:${port}: ${err.message}`, { cause: err });
}
