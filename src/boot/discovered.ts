// Machines seen booting that anvil does not know: listed (first and last seen, how often) so
// an operator can enroll them, until enrolled or forgotten. Anyone on the boot network can ask
// to boot as any MAC, so the list is bounded: fields are cut to DISCOVERED_FIELD_MAX characters,
// the least recently seen rows are evicted past DISCOVERED_MAX_ROWS, and each source address may
// add new rows only at DISCOVERED_RATE (a token bucket); over it the machine is still answered.
import type { Kysely } from 'kysely';
import type { Database, Discovered as DiscoveredRow } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import { normalizeMac } from '../machines/mac.ts';
import type { BootAsker } from './next-boot.ts';

export type DiscoveredMachine = DiscoveredRow;

/** Rows kept; past it the least recently seen are evicted. */
export const DISCOVERED_MAX_ROWS = 10_000;
/** Characters kept of arch, loader and address (a real one is a few dozen at most). */
export const DISCOVERED_FIELD_MAX = 64;
/** New rows one source address may add: a burst (a rack powering on), then a steady rate. */
export const DISCOVERED_RATE: RateLimit = { burst: 64, perSecond: 2 };
/** Source addresses whose buckets are remembered; the oldest is forgotten past it. */
export const DISCOVERED_SOURCES_MAX = 4096;

export interface RateLimit {
  readonly burst: number;
  readonly perSecond: number;
}

export interface DiscoveredLimits {
  readonly maxRows?: number;
  readonly fieldMax?: number;
  /** false: no per-source limit. */
  readonly rate?: RateLimit | false;
}

/** What the limits did, for /metrics. */
export interface DiscoveredCounters {
  evicted: number;
  rateLimited: number;
}

export class Discovered {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #maxRows: number;
  readonly #fieldMax: number;
  readonly #buckets: TokenBuckets | undefined;
  readonly counters: DiscoveredCounters = { evicted: 0, rateLimited: 0 };

  constructor(db: Kysely<Database>, clock: Clock, limits: DiscoveredLimits = {}) {
    this.#db = db;
    this.#clock = clock;
    this.#maxRows = limits.maxRows ?? DISCOVERED_MAX_ROWS;
    this.#fieldMax = limits.fieldMax ?? DISCOVERED_FIELD_MAX;
    const rate = limits.rate ?? DISCOVERED_RATE;
    this.#buckets = rate === false ? undefined : new TokenBuckets(rate, DISCOVERED_SOURCES_MAX);
  }

  /** A MAC anvil does not know asked to boot: list it (first and last seen). */
  async record(mac: string, asker: BootAsker): Promise<void> {
    const now = stamp(this.#clock);
    const fields = { arch: this.#cut(asker.arch), loader: this.#cut(asker.loader), address: this.#cut(asker.address) };
    const seen = await this.#db
      .updateTable('discovered')
      .set((eb) => ({ last_seen: now, boots: eb('boots', '+', 1), ...fields }))
      .where('mac', '=', mac)
      .executeTakeFirst();
    if (seen.numUpdatedRows > 0n) return;
    if (this.#buckets && !this.#buckets.take(asker.address ?? '', this.#clock().getTime())) {
      this.counters.rateLimited++;
      return;
    }
    await this.#db
      .insertInto('discovered')
      .values({ mac, ...fields, first_seen: now, last_seen: now })
      .onConflict((oc) => oc.column('mac').doUpdateSet({ last_seen: now }))
      .execute();
    await this.#evict();
  }

  #cut(value: string | undefined): string | null {
    return value === undefined ? null : value.slice(0, this.#fieldMax);
  }

  /** Drops the least recently seen rows past the cap. */
  async #evict(): Promise<void> {
    const over = (await this.count()) - this.#maxRows;
    if (over <= 0) return;
    const oldest = this.#db.selectFrom('discovered').select('mac').orderBy('last_seen').orderBy('mac').limit(over);
    const result = await this.#db.deleteFrom('discovered').where('mac', 'in', oldest).executeTakeFirst();
    this.counters.evicted += Number(result.numDeletedRows);
  }

  /** Most recently seen first. */
  async list(limit?: number, offset = 0): Promise<DiscoveredMachine[]> {
    const query = this.#db.selectFrom('discovered').selectAll().orderBy('last_seen', 'desc').orderBy('mac');
    return (limit === undefined ? query : query.limit(limit).offset(offset)).execute();
  }

  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom('discovered')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Drops a discovered MAC (it comes back if it boots again). False when it was not listed. */
  async forget(mac: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('discovered').where('mac', '=', normalizeMac(mac)).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

/** A token bucket per key, in memory; the least recently used key is forgotten past `maxKeys`. */
export class TokenBuckets {
  readonly #rate: RateLimit;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(rate: RateLimit, maxKeys: number) {
    this.#rate = rate;
    this.#maxKeys = maxKeys;
  }

  /** Takes a token for `key` at time `nowMs`; false when its bucket is empty. */
  take(key: string, nowMs: number): boolean {
    const bucket = this.#buckets.get(key) ?? { tokens: this.#rate.burst, at: nowMs };
    this.#buckets.delete(key);
    bucket.tokens = Math.min(this.#rate.burst, bucket.tokens + (Math.max(0, nowMs - bucket.at) / 1000) * this.#rate.perSecond);
    bucket.at = nowMs;
    const granted = bucket.tokens >= 1;
    if (granted) bucket.tokens -= 1;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    return granted;
  }
}
