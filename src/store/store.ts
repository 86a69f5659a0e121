// Opens anvil's database — SQLite in the data directory by default, PostgreSQL when
// ANVIL_DATABASE_URL says so — and brings its schema up to date before anything uses it.
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Database } from './schema.ts';
import type { Dialect } from './migrations/helpers.ts';
import { migrationsFor } from './migrations/index.ts';
import { AnvilError } from '../common/errors.ts';

/** How long a writer waits for another process (pxemngr, a second server) to release SQLite. */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** SQLite file path (':memory:' for tests). */
  sqlitePath?: string;
  /** postgres://… ; wins over sqlitePath. */
  postgresUrl?: string;
  /** Stop at this migration (tests of in-place upgrades). */
  migrateTo?: string;
  /** Where a lost or regained PostgreSQL connection is reported (default: a line on stderr). */
  log?: StoreLog;
}

export interface StoreLog {
  warn(message: string): void;
  info(message: string): void;
}

const stderrLog: StoreLog = {
  warn: (message) => process.stderr.write(`anvil: warning: ${message}\n`),
  info: (message) => process.stderr.write(`anvil: ${message}\n`),
};

/** host:port/database of a postgres:// URL, never its password. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || '/'}`;
  } catch {
    return 'the PostgreSQL server in ANVIL_DATABASE_URL';
  }
}

/**
 * A pool's idle connections fail when the server stops or restarts; unheard, that 'error'
 * event would end the process. Instead say so once per outage, and say so again when a new
 * connection succeeds: the pool reconnects on the next query by itself.
 */
function watchConnections(pool: import('pg').Pool, url: string, log: StoreLog): void {
  let lost = false;
  const where = describePostgresUrl(url);
  pool.on('error', (error) => {
    if (lost) return;
    lost = true;
    log.warn(
      `the database connection to PostgreSQL at ${where} was lost (${error.message}); anvil keeps running and reconnects on the next query, ` +
        'which fails until the server is back: check that PostgreSQL is running and reachable, and that ANVIL_DATABASE_URL names it',
    );
  });
  pool.on('connect', () => {
    if (!lost) return;
    lost = false;
    log.info(`the database connection to PostgreSQL at ${where} is back`);
  });
}

export async function openStore(options: OpenOptions): Promise<Store> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  if (options.postgresUrl) {
    const { default: pg } = await import('pg');
    // node-postgres hands 64-bit integers (bigint columns, count(*)) back as strings to be safe
    // beyond 2^53; anvil's counts and byte sizes stay far below that, and SQLite gives numbers.
    const types = {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    };
    const pool = new pg.Pool({ connectionString: options.postgresUrl, max: 10, types });
    watchConnections(pool, options.postgresUrl, options.log ?? stderrLog);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    dialect = 'postgres';
  } else {
    const file = options.sqlitePath ?? ':memory:';
    let sqlite: SQLite.Database;
    try {
      sqlite = new SQLite(file);
    } catch (error) {
      throw new AnvilError('STORE_OPEN_FAILED', 'unavailable', `cannot open the database ${file}: ${(error as Error).message}`, { cause: error });
    }
    // WAL lets pxemngr write while a server reads; the busy timeout makes writers queue instead of failing.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('synchronous = NORMAL');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    dialect = 'sqlite';
  }
  const store: Store = { db, dialect, close: () => db.destroy() };
  try {
    await migrate(store, options.migrateTo);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return store;
}

export async function migrate(store: Store, target?: string): Promise<void> {
  const migrator = new Migrator({
    db: store.db,
    provider: { getMigrations: async () => migrationsFor(store.dialect) },
    migrationTableName: 'anvil_migrations',
    migrationLockTableName: 'anvil_migrations_lock',
  });
  const { error, results } = target ? await migrator.migrateTo(target) : await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new AnvilError('STORE_MIGRATION_FAILED', 'internal', `database migration ${failed} failed: ${(error as Error).message}`, { cause: error });
  }
}

/** The current time as stored: ISO-8601 UTC. */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();
export const stamp = (clock: Clock): string => clock().toISOString();
