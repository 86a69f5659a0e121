// Pure option negotiation for a read request: RFC 2347 (framework), 2348 (blksize),
// 2349 (timeout, tsize), 7440 (windowsize). Unknown or invalid options are left out of
// the OACK, which RFC 2347 §"Negotiation" defines as refusing them; the transfer goes on.
import type { TftpOption } from './codec.ts';
import { DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, MAX_TIMEOUT_SECONDS, MAX_WINDOW_SIZE, MIN_BLOCK_SIZE, MIN_TIMEOUT_SECONDS, MIN_WINDOW_SIZE } from './constants.ts';

export type NegotiationLimits = {
  /** Largest blksize granted; requests above it are clamped (RFC 2348 lets the server answer smaller). */
  readonly maxBlockSize: number;
  /** Largest windowsize granted; RFC 7440 §3 lets the server answer smaller. */
  readonly maxWindowSize: number;
  /** Longest timeout option accepted; a longer one is refused (left out of the OACK). */
  readonly maxTimeoutSeconds: number;
};

export type Negotiated = {
  /** Options for the OACK, in the client's order; empty means "send DATA 1 directly" (RFC 2347). */
  readonly accepted: readonly TftpOption[];
  readonly blockSize: number;
  readonly windowSize: number;
  /** The client's retransmission timeout in seconds (RFC 2349), or undefined to use the server's. */
  readonly timeoutSeconds: number | undefined;
};

const DECIMAL = /^[0-9]{1,10}$/;

function parseDecimal(value: string): number | undefined {
  return DECIMAL.test(value) ? Number(value) : undefined;
}

/**
 * Decides the answer to a read request's options. `fileSize` is undefined when the
 * handler cannot tell it, and tsize is then refused rather than guessed.
 */
export function negotiateReadOptions(options: readonly TftpOption[], fileSize: number | undefined, limits: NegotiationLimits): Negotiated {
  const accepted: TftpOption[] = [];
  const seen = new Set<string>();
  let blockSize = DEFAULT_BLOCK_SIZE;
  let windowSize = 1;
  let timeoutSeconds: number | undefined;
  for (const [rawName, value] of options) {
    const name = rawName.toLowerCase();
    if (seen.has(name)) continue; // the first occurrence wins
    seen.add(name);
    const n = parseDecimal(value);
    switch (name) {
      case 'blksize':
        if (n === undefined || n < MIN_BLOCK_SIZE) break;
        blockSize = Math.min(n, limits.maxBlockSize, MAX_BLOCK_SIZE);
        accepted.push([name, String(blockSize)]);
        break;
      case 'timeout':
        // RFC 2349: a value out of 1..255 is an invalid option, so it is not acknowledged.
        if (n === undefined || n < MIN_TIMEOUT_SECONDS || n > MAX_TIMEOUT_SECONDS || n > limits.maxTimeoutSeconds) break;
        timeoutSeconds = n;
        accepted.push([name, String(n)]);
        break;
      case 'tsize':
        // RFC 2349: in a read request the client sends 0 and the server answers the size.
        if (n === undefined || fileSize === undefined) break;
        accepted.push([name, String(fileSize)]);
        break;
      case 'windowsize':
        if (n === undefined || n < MIN_WINDOW_SIZE || n > MAX_WINDOW_SIZE) break;
        windowSize = Math.min(n, limits.maxWindowSize);
        accepted.push([name, String(windowSize)]);
        break;
      default:
        break;
    }
  }
  return { accepted, blockSize, windowSize, timeoutSeconds };
}
