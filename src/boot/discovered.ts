// Machines seen booting that anvil does not know: listed (first and last seen, how often) so
// an operator can enroll them, until enrolled or forgotten.
import type { Kysely } from 'kysely';
import type { Database, Discovered as DiscoveredRow } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import { normalizeMac } from '../machines/mac.ts';
import type { BootAsker } from './next-boot.ts';

export type DiscoveredMachine = DiscoveredRow;

export class Discovered {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  /** A MAC anvil does not know asked to boot: list it (first and last seen). */
  async record(mac: string, asker: BootAsker): Promise<void> {
    const now = stamp(this.#clock);
    const seen = await this.#db
      .updateTable('discovered')
      .set((eb) => ({ last_seen: now, boots: eb('boots', '+', 1), arch: asker.arch ?? null, loader: asker.loader ?? null, address: asker.address ?? null }))
      .where('mac', '=', mac)
      .executeTakeFirst();
    if (seen.numUpdatedRows === 0n) {
      await this.#db
        .insertInto('discovered')
        .values({ mac, arch: asker.arch ?? null, loader: asker.loader ?? null, address: asker.address ?? null, first_seen: now, last_seen: now })
        .onConflict((oc) => oc.column('mac').doUpdateSet({ last_seen: now }))
        .execute();
    }
  }

  /** Most recently seen first. */
  async list(limit?: number): Promise<DiscoveredMachine[]> {
    const query = this.#db.selectFrom('discovered').selectAll().orderBy('last_seen', 'desc').orderBy('mac');
    return (limit === undefined ? query : query.limit(limit)).execute();
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
