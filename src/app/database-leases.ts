// The DHCP server's leases in anvil's database (SQLite or PostgreSQL), so every anvil process
// sharing the database answers for every lease. The DHCP library knows only its small
// LeaseStore interface; this is that interface over the dhcp_leases table. A data directory
// that still has dhcp/leases.json (from before the table) has it imported once at start.
import { existsSync, renameSync } from 'node:fs';
import { sql, type Kysely, type Selectable } from 'kysely';
import { JsonFileLeaseStore, type Lease, type LeaseState, type LeaseStore } from '../protocols/dhcp/index.ts';
import { AnvilError } from '../common/errors.ts';
import type { Database, DhcpLeasesTable } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { Dialect } from '../store/migrations/helpers.ts';

/** The PostgreSQL advisory lock key every lease write takes (any constant unique to anvil's leases). */
export const LEASE_WRITE_LOCK = 0x616e_6c65; // 'anle'

export class DatabaseLeaseStore implements LeaseStore {
  readonly #db: Kysely<Database>;
  readonly #dialect: Dialect;

  constructor(store: Pick<Store, 'db' | 'dialect'>) {
    this.#db = store.db;
    this.#dialect = store.dialect;
  }

  async get(mac: string): Promise<Lease | undefined> {
    const row = await this.#db.selectFrom('dhcp_leases').selectAll().where('mac', '=', mac).executeTakeFirst();
    return row && toLease(row);
  }

  async byAddress(address: string): Promise<Lease | undefined> {
    const row = await this.#db.selectFrom('dhcp_leases').selectAll().where('address', '=', address).executeTakeFirst();
    return row && toLease(row);
  }

  /**
   * Replaces the MAC's record and drops any other holder of the address, in one transaction.
   * On PostgreSQL the transaction first takes one advisory lock shared by every lease write,
   * so two processes putting the same address or MAC never both see it free and both insert;
   * lease writes are few (one per DHCP exchange), and SQLite serializes its writers anyway.
   */
  async put(lease: Lease): Promise<void> {
    try {
      await this.#db.transaction().execute(async (tx) => {
        if (this.#dialect === 'postgres') await sql`select pg_advisory_xact_lock(${LEASE_WRITE_LOCK})`.execute(tx);
        await tx
          .deleteFrom('dhcp_leases')
          .where((eb) => eb.or([eb('mac', '=', lease.mac), eb('address', '=', lease.address)]))
          .execute();
        await tx.insertInto('dhcp_leases').values(toRow(lease)).execute();
      });
    } catch (error) {
      throw new AnvilError('DHCP_LEASE_STORE', 'unavailable', `cannot store the DHCP lease of ${lease.mac} (${lease.address}): ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async delete(mac: string): Promise<void> {
    await this.#db.deleteFrom('dhcp_leases').where('mac', '=', mac).execute();
  }

  async list(): Promise<Lease[]> {
    const rows = await this.#db.selectFrom('dhcp_leases').selectAll().orderBy('mac').execute();
    return rows.map(toLease);
  }
}

export interface LeaseImport {
  /** Leases copied into the database (a MAC the database already has keeps its record). */
  readonly imported: number;
  readonly skipped: number;
  /** Where the file now is. */
  readonly movedTo: string;
}

/**
 * Imports `file` (and its journal) into the database once, then renames them aside
 * (FILE.imported, FILE.journal.imported) so the next start does not import them again.
 * Undefined when there is no file. A corrupt file is the JSON store's DHCP_STORE error.
 */
export async function importLeaseFile(store: LeaseStore, file: string): Promise<LeaseImport | undefined> {
  const journal = `${file}.journal`;
  if (!existsSync(file) && !existsSync(journal)) return undefined;
  // Opening folds the journal into the snapshot, as the JSON store does at every start.
  const old = await JsonFileLeaseStore.open(file);
  let imported = 0;
  let skipped = 0;
  for (const lease of await old.list()) {
    if ((await store.get(lease.mac)) !== undefined) {
      skipped++;
      continue;
    }
    await store.put(lease);
    imported++;
  }
  const movedTo = `${file}.imported`;
  renameSync(file, movedTo);
  if (existsSync(journal)) renameSync(journal, `${journal}.imported`);
  return { imported, skipped, movedTo };
}

function toRow(lease: Lease): DhcpLeasesTable {
  return {
    mac: lease.mac,
    address: lease.address,
    state: lease.state,
    expires_at: lease.expiresAt,
    hostname: lease.hostname ?? null,
    client_id: lease.clientId ?? null,
  };
}

function toLease(row: Selectable<DhcpLeasesTable>): Lease {
  return {
    mac: row.mac,
    address: row.address,
    state: row.state as LeaseState,
    expiresAt: Number(row.expires_at),
    ...(row.hostname !== null ? { hostname: row.hostname } : {}),
    ...(row.client_id !== null ? { clientId: row.client_id } : {}),
  };
}
