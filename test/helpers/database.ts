// Which database the store, domain and API tests run on: ANVIL_TEST_DATABASE=sqlite (the
// default) or postgres. One suite, two backends: tests ask here for a URL or a store and never
// name a dialect themselves.
import { openStore, type OpenOptions, type Store } from '../../src/store/store.ts';
import { freshDatabase } from './postgres.ts';

export type TestBackend = 'sqlite' | 'postgres';

export function testBackend(): TestBackend {
  const backend = process.env.ANVIL_TEST_DATABASE ?? 'sqlite';
  if (backend !== 'sqlite' && backend !== 'postgres') throw new Error(`ANVIL_TEST_DATABASE=${backend}: say sqlite or postgres`);
  return backend;
}

/**
 * A fresh PostgreSQL database's URL on the postgres backend, undefined on SQLite (the caller
 * then uses its own file or :memory:). Asking for the postgres backend without PostgreSQL
 * installed is an error, not a skip: scripts/test only asks when it is there.
 */
export async function testDatabaseUrl(): Promise<string | undefined> {
  if (testBackend() === 'sqlite') return undefined;
  return freshDatabase();
}

/** A migrated store on the chosen backend (SQLite in memory unless sqlitePath says a file), closed after the test. */
export async function testStore(t: { after(fn: () => unknown): void }, options: Omit<OpenOptions, 'postgresUrl'> = {}): Promise<Store> {
  const postgresUrl = await testDatabaseUrl();
  const store = await openStore(postgresUrl ? { ...options, postgresUrl } : { sqlitePath: ':memory:', ...options });
  t.after(() => store.close());
  return store;
}
