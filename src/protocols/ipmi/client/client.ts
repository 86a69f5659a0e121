// The IPMI client: one shared Transport (UDP socket) and a registry that hands out one
// Session per (host, port, user, password, Kg, protocol), so a command API, a console and
// a power-sync loop talking to the same BMC share one login, as pyghmi's Session.__new__ does.
import { digest } from '../digests.ts';
import { pooledRandomness } from '../io.ts';
import { Transport } from './transport.ts';
import type { TransportOptions } from './transport.ts';
import { Session } from './session.ts';
import { DEFAULT_RETRY_POLICY } from './options.ts';
import type { BmcTarget, Randomness, RetryPolicy } from './options.ts';
import { Bmc } from './bmc.ts';

export interface ClientOptions extends TransportOptions {
  readonly policy?: Partial<RetryPolicy>;
  readonly random?: Randomness;
}

/** The system CSPRNG, pooled (io.ts); jitter fractions come from the same pool. */
function systemRandom(): Randomness {
  return pooledRandomness();
}

const SEPARATOR = Buffer.from([0]);

/** The secrets' digest of the last target given its secrets as text: a fleet logs in to every BMC with the same ones. */
let lastSecrets: { readonly password: string; readonly kg: string; readonly digest: string } | undefined;

/** The digest of a target's password and Kg (one each was ~4 µs, 200 of them for 200 BMCs). */
function secretDigest(password: string, kg: string | Uint8Array | undefined): string {
  const cacheable = kg === undefined || typeof kg === 'string';
  if (cacheable && lastSecrets?.password === password && lastSecrets.kg === (kg ?? '')) return lastSecrets.digest;
  const hex = digest('sha256', Buffer.from(password), SEPARATOR, Buffer.from(kg ?? ''))
    .toString('hex')
    .slice(0, 32);
  if (cacheable) lastSecrets = { password, kg: kg ?? '', digest: hex };
  return hex;
}

/** The registry key: secrets enter only as a digest, so a key is safe to print. */
function registryKey(t: BmcTarget): string {
  const secret = secretDigest(t.password, t.kg);
  return [t.host, t.port ?? 623, t.user, t.protocol ?? 'lanplus', t.privilege ?? '', t.cipherSuite ?? '', t.authType ?? '', secret].join('|');
}

export class IpmiClient {
  readonly transport: Transport;
  readonly policy: RetryPolicy;
  readonly #random: Randomness;
  readonly #sessions = new Map<string, Session>();

  constructor(options: ClientOptions = {}) {
    this.transport = new Transport(options);
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
    this.#random = options.random ?? systemRandom();
  }

  /** The session for this BMC and credentials, created on first use (login happens on the first request). */
  session(target: BmcTarget): Session {
    const key = registryKey(target);
    let session = this.#sessions.get(key);
    if (!session || session.state.kind === 'closing' || (session.state.kind === 'closed' && session.state.reason === undefined)) {
      // A closed session leaves the registry, so a client that walks a fleet once does not keep every BMC's session.
      const created: Session = new Session(this.transport, target, this.policy, this.#random, () => {
        if (this.#sessions.get(key) === created) this.#sessions.delete(key);
      });
      session = created;
      this.#sessions.set(key, session);
    }
    return session;
  }

  /** The command API (pyghmi's Command) for one BMC. */
  bmc(target: BmcTarget): Bmc {
    return new Bmc(this.session(target));
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Sends Close Session on every open session, then closes the socket. */
  async close(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => s.close()));
    await this.transport.close();
  }
}
