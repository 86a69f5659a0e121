// anvil's PostgreSQL connection: a pool that survives the server going away (and says so),
// reads 64-bit integers as numbers like SQLite does, and turns a wrong URL, a refused password
// or a missing database into an error that says which and what to do; while the server is
// away, a failed query becomes STORE_UNREACHABLE (503) saying so, never an internal error.
import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import { AnvilError } from '../common/errors.ts';
import type { Database } from './schema.ts';
import type { StoreLog } from './store.ts';

/** Connections per process. */
export const POSTGRES_POOL_SIZE = 10;
/**
 * A connection not made within this long fails (STORE_UNREACHABLE): a server that vanished
 * without refusing (a host down, packets dropped) must not hold requests until TCP gives up.
 */
export const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;

export async function openPostgres(url: string, log: StoreLog = stderrLog): Promise<Kysely<Database>> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    parsed = new URL('invalid:');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new AnvilError('STORE_BAD_URL', 'invalid', 'the database URL is not a postgres:// URL; write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE');
  const { default: pgModule } = await import('pg');
  // node-postgres hands 64-bit integers (bigint columns, count(*)) back as strings to be safe
  // beyond 2^53; anvil's counts and byte sizes stay far below that, and SQLite gives numbers.
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === pgModule.types.builtins.INT8 ? Number : pgModule.types.getTypeParser(oid, format)) as typeof pgModule.types.getTypeParser,
  };
  const pool = new pgModule.Pool({ connectionString: url, max: POSTGRES_POOL_SIZE, types, connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS });
  watchConnections(pool, url, log);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** One round trip before migrating, so a bad URL, password or database name is named as such. */
export async function checkPostgres(db: Kysely<Database>, url: string): Promise<void> {
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    throw postgresOpenError(error as Error & { code?: string }, url);
  }
}

export function postgresOpenError(error: Error & { code?: string }, url: string): AnvilError {
  const where = describePostgresUrl(url);
  const u = new URL(url);
  const user = decodeURIComponent(u.username) || 'the default user';
  const database = decodeURIComponent(u.pathname.slice(1)) || user;
  const say = (code: string, message: string) => new AnvilError(code, 'unavailable', message, { cause: error });
  switch (error.code) {
    case 'ECONNREFUSED':
      return say('STORE_UNREACHABLE', `cannot reach PostgreSQL at ${where} (connection refused): start it, or fix the host and port in ANVIL_DATABASE_URL`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return say('STORE_UNREACHABLE', `cannot reach PostgreSQL at ${where}: the host ${u.hostname} is unknown; fix ANVIL_DATABASE_URL`);
    case '28P01':
    case '28000':
      return say('STORE_AUTH_FAILED', `PostgreSQL at ${where} refused the password for user ${user}: fix the user and password in ANVIL_DATABASE_URL`);
    case '3D000':
      return say(
        'STORE_NO_DATABASE',
        `PostgreSQL at ${where} has no database ${database}: create it (createdb -O ${user} ${database}) or fix ANVIL_DATABASE_URL`,
      );
    default:
      return say('STORE_OPEN_FAILED', `cannot open the database at ${where}: ${error.message}`);
  }
}

/** SQLSTATEs of a server going or gone: class 08 (connection exception), shutdown, starting up. */
const SERVER_AWAY = new Set(['57P01', '57P02', '57P03']);
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** True when a query failed because the server is away (stopped, restarting, unreachable), not because of the query. */
export function isPostgresAway(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (SERVER_AWAY.has(code) || code.startsWith('08') || SOCKET_ERRORS.has(code))) return true;
  // node-postgres's own words for a connection that ended, or one the pool could not make in time.
  return /^Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|is not queryable/i.test(
    error.message,
  );
}

/**
 * A query's failure while the server is away, as the error requests and loops report: which
 * server, that anvil goes on, and what to do. Undefined for any other failure.
 */
export function postgresAwayError(error: unknown, url: string): AnvilError | undefined {
  if (error instanceof AnvilError) return error.code === 'STORE_UNREACHABLE' ? error : undefined;
  if (!isPostgresAway(error)) return undefined;
  return new AnvilError(
    'STORE_UNREACHABLE',
    'unavailable',
    `the database is unreachable: PostgreSQL at ${describePostgresUrl(url)} (${(error as Error).message}); anvil keeps running and answers again once it is back: ` +
      'check that PostgreSQL is running and reachable, and that ANVIL_DATABASE_URL names it (start it if it was stopped)',
    { cause: error },
  );
}

export const stderrLog: StoreLog = {
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
 * A connection fails when the server stops or restarts: an idle one in the pool says so on the
 * pool, one checked out (between a transaction's queries, or just after its query failed) on
 * the client itself; unheard, either 'error' event would end the process. Instead say so once
 * per outage, and say so again when a new connection succeeds: the pool drops the broken
 * connections and reconnects on the next query by itself.
 */
function watchConnections(pool: pg.Pool, url: string, log: StoreLog): void {
  let lost = false;
  const where = describePostgresUrl(url);
  const onError = (error: Error) => {
    if (lost) return;
    lost = true;
    log.warn(
      `the database connection to PostgreSQL at ${where} was lost (${error.message}); anvil keeps running and reconnects on the next query, ` +
        'which fails until the server is back: check that PostgreSQL is running and reachable, and that ANVIL_DATABASE_URL names it',
    );
  };
  pool.on('error', onError);
  pool.on('connect', (client) => {
    client.on('error', onError);
    if (!lost) return;
    lost = false;
    log.info(`the database connection to PostgreSQL at ${where} is back`);
  });
}
