// Opens anvil's database — SQLite in the data directory by default, PostgreSQL when
// ANVIL_DATABASE_URL says so — and brings its schema up to date before anything uses it.
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { CompiledQuery, Kysely, sql, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Database } from './schema.ts';
import type { Dialect } from './migrations/helpers.ts';
import { migrationsFor } from './migrations/index.ts';
import { AnvilError } from '../common/errors.ts';
import { checkPostgres, openPostgres, postgresAwayError, stderrLog } from './postgres.ts';
import { PostgresChannel, type NotifyChannel } from './postgres-channel.ts';
import { cachingStatements } from './statement-cache.ts';
import { SQLITE_SYNCHRONOUS } from './durable.ts';

/** How long a writer waits for another process (pxemngr, a second server) to release SQLite. */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

/**
 * SQLite transactions that take the write lock when they begin (BEGIN IMMEDIATE). Kysely's
 * plain BEGIN is deferred: a transaction that reads first and then writes, while another
 * process (pxemngr beside a server) committed in between, fails at once with
 * SQLITE_BUSY_SNAPSHOT, "database is locked", whatever the busy timeout. Every transaction of
 * anvil's writes, so each waits its turn instead.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /**
   * A query's failure because the database is away (PostgreSQL stopped or unreachable) as
   * STORE_UNREACHABLE, saying which server and what to do; undefined for any other failure.
   */
  away(error: unknown): AnvilError | undefined;
  /** One round trip; throws STORE_UNREACHABLE while the database is away. */
  ping(): Promise<void>;
  /** A LISTEN/NOTIFY channel among the processes sharing the database; undefined on SQLite (one process). */
  channel(name: string, log?: StoreLog): NotifyChannel | undefined;
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

export async function openStore(options: OpenOptions): Promise<Store> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  if (options.postgresUrl) {
    db = await openPostgres(options.postgresUrl, options.log);
    dialect = 'postgres';
  } else {
    const file = options.sqlitePath ?? ':memory:';
    let sqlite: SQLite.Database;
    try {
      if (file !== ':memory:') keepPrivate(file);
      sqlite = new SQLite(file);
    } catch (error) {
      throw new AnvilError('STORE_OPEN_FAILED', 'unavailable', `cannot open the database ${file}: ${(error as Error).message}`, { cause: error });
    }
    // WAL lets pxemngr write while a server reads; the busy timeout makes writers queue instead of failing.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma(`synchronous = ${SQLITE_SYNCHRONOUS}`); // durable.ts raises it for the writes that must survive power loss
    db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: cachingStatements(sqlite) }) });
    dialect = 'sqlite';
  }
  const url = options.postgresUrl;
  const away = (error: unknown) => (url ? postgresAwayError(error, url) : undefined);
  const ping = async () => {
    try {
      await sql`select 1`.execute(db);
    } catch (error) {
      throw away(error) ?? error;
    }
  };
  const channel = (name: string, log: StoreLog = options.log ?? stderrLog) => (url ? new PostgresChannel(db, url, name, log) : undefined);
  const store: Store = { db, dialect, away, ping, channel, close: () => db.destroy() };
  try {
    if (options.postgresUrl) await checkPostgres(db, options.postgresUrl);
    await migrate(store, options.migrateTo);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return store;
}

/**
 * Modes of the database file. It holds token hashes, driver settings and the machines' history,
 * so a new one is its owner's only, like secret.key; SQLite gives -wal and -shm the mode of
 * the database file. An existing file loses only its bits for others, so a group its operator
 * shares it with (pxemngr run by a second account) keeps working.
 */
export const DATABASE_FILE_MODE = 0o600;
const OTHERS = 0o007;

/** Creates the database file owner-only before SQLite sees it, or takes others' access off an existing one and its -wal/-shm. */
function keepPrivate(file: string): void {
  try {
    closeSync(openSync(file, 'wx', DATABASE_FILE_MODE));
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return; // SQLite says why it cannot open it
  }
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      const mode = statSync(path).mode & 0o777;
      if (mode & OTHERS) chmodSync(path, mode & ~OTHERS);
    } catch {
      // Absent (no -wal yet) or not ours to change: SQLite opens it or says why not.
    }
  }
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
