// Records which templates exist in a names table (profiles, tests): found names become
// available, names whose file is gone become unavailable (kept, so history still reads).
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export interface SyncReport {
  readonly added: string[];
  readonly kept: string[];
  readonly removed: string[];
}

export async function syncNames(db: Kysely<Database>, table: 'profiles' | 'tests', names: readonly string[], now: string): Promise<SyncReport> {
  return db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom(table).select(['name', 'available']).execute();
    const byName = new Map(existing.map((r) => [r.name, r.available]));
    const found = new Set(names);
    const added: string[] = [];
    const kept: string[] = [];
    const removed: string[] = [];
    for (const name of names) {
      if (!byName.has(name)) {
        await trx.insertInto(table).values({ name, available: 1, synced_at: now }).execute();
        added.push(name);
      } else {
        await trx.updateTable(table).set({ available: 1, synced_at: now }).where('name', '=', name).execute();
        (byName.get(name) === 1 ? kept : added).push(name);
      }
    }
    for (const [name, available] of byName) {
      if (!found.has(name) && available === 1) {
        await trx.updateTable(table).set({ available: 0, synced_at: now }).where('name', '=', name).execute();
        removed.push(name);
      }
    }
    return { added, kept, removed };
  });
}

export async function availableNames(db: Kysely<Database>, table: 'profiles' | 'tests'): Promise<string[]> {
  const rows = await db.selectFrom(table).select('name').where('available', '=', 1).orderBy('name').execute();
  return rows.map((r) => r.name);
}
