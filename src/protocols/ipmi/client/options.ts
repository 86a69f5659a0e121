// Named, overridable defaults of the IPMI client (timeouts, retries, keepalive, privilege).
import type { PrivilegeLevel } from '../constants.ts';

/** First wait for an answer. ipmitool's -N default is 1 s; pyghmi's 0.5–1 s. */
export const DEFAULT_TIMEOUT_MS = 1000;
/** Resends of an idempotent request after the first send (ipmitool -R default 4 attempts in all). */
export const DEFAULT_RETRIES = 3;
/** Each retry waits timeout × (1 + attempt × backoff): 1 s, 2 s, 3 s, … as ipmitool and pyghmi grow theirs. */
export const DEFAULT_BACKOFF = 1;
/** Up to this fraction is added at random to each wait, so a fleet's retries do not arrive in lockstep. */
export const DEFAULT_JITTER = 0.3;
/** Whole-login restarts after a RAKP message goes unanswered (BMCs do not tolerate a duplicate RAKP1/3). */
export const DEFAULT_LOGIN_ATTEMPTS = 3;
/** A session idle this long sends Get Device ID: BMCs drop sessions idle for ~30–60 s (pyghmi: 29 s − rand(0..4.9)). */
export const DEFAULT_KEEPALIVE_MS = 25_000;
/** Requested privilege when none is given: ADMINISTRATOR, as ipmitool's -L default. */
export const DEFAULT_PRIVILEGE: PrivilegeLevel = 4;
/** Cipher suites tried, most preferred first, when the BMC lists what it offers (ipmitool prefers 17, then 3). */
export const PREFERRED_CIPHER_SUITES: readonly number[] = [17, 3, 16, 2, 8, 7, 15, 1, 6];
/** Suite used when the BMC does not answer Get Channel Cipher Suites before a session (e.g. ipmi_sim). */
export const FALLBACK_CIPHER_SUITE = 3;

export type Protocol = 'lanplus' | 'lan';

/** Which BMC, as whom. The password and Kg never appear in errors, logs or registry keys. */
export interface BmcTarget {
  readonly host: string;
  readonly port?: number;
  readonly user: string;
  readonly password: string;
  /** BMC key Kg (RMCP+ two-key login); default: the user's password (§13.31). */
  readonly kg?: string | Uint8Array;
  readonly protocol?: Protocol;
  readonly privilege?: PrivilegeLevel;
  /**
   * RMCP+ cipher suite: a number fixes it (ipmitool -C); 'list' asks the BMC for its suites
   * first and picks from PREFERRED_CIPHER_SUITES (ipmitool's way, two more round trips);
   * undefined proposes the first preferred suite and falls back to FALLBACK_CIPHER_SUITE when
   * refused (pyghmi's way, the fastest for fleets).
   */
  readonly cipherSuite?: number | 'list';
  /** IPMI 1.5 authentication type (ipmitool -A); default the strongest the BMC offers. */
  readonly authType?: 'md5' | 'password' | 'none';
}

export interface RetryPolicy {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly backoff: number;
  readonly jitter: number;
  readonly loginAttempts: number;
  readonly keepaliveMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  timeoutMs: DEFAULT_TIMEOUT_MS,
  retries: DEFAULT_RETRIES,
  backoff: DEFAULT_BACKOFF,
  jitter: DEFAULT_JITTER,
  loginAttempts: DEFAULT_LOGIN_ATTEMPTS,
  keepaliveMs: DEFAULT_KEEPALIVE_MS,
};

/** Injectable randomness (session IDs, RAKP randoms, AES IVs, jitter), so tests can be deterministic. */
export interface Randomness {
  bytes(n: number): Buffer;
  fraction(): number;
}
