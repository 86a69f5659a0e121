// The base of every error anvil's protocol libraries throw on purpose (STYLE.md, "Errors"):
// a stable `code` callers match on, a `name`, a message that says what failed and what to
// do (never a password), and the `cause` when another error led to it. Each protocol has one
// class of its own beneath it that all its errors extend: AmtError, DhcpError, IpmiError,
// QmpProtocolError, TftpError. It lives here because a protocol imports nothing of anvil
// outside src/protocols/, each being shipped as a library.
export abstract class ProtocolError extends Error {
  override readonly name: string = 'ProtocolError';
  /** Stable across releases, unlike the message: what callers match on. */
  abstract readonly code: string;
}
