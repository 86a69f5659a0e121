// The SQLite connection as Kysely sees it, with its prepared statements kept and reused.
// Kysely's SQLite driver prepares every query anew, and a better-sqlite3 statement is native
// memory (tens of KB for a select over a wide table) that V8 does not see: it is freed only
// when a garbage collection happens to find its small JS object. A TFTP or HTTP flood of
// /boot and pxelinux.cfg/01-<mac> questions prepared thousands of statements between two
// collections, and the process grew by tens of MB per 20,000 requests. Kysely's queries are
// few distinct SQL texts with bound parameters, so a small cache by text holds all of them.
import type SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Distinct SQL texts kept prepared; past it the least recently used is dropped (and freed by the GC). */
export const SQLITE_STATEMENT_CACHE_SIZE = 512;

export interface CachingSqlite extends SqliteDatabase {
  /** How many statements are kept now (for tests). */
  readonly cached: number;
}

/** `sqlite`, whose prepare() returns the kept statement for a SQL text it has seen, unless that one is still iterating. */
export function cachingStatements(sqlite: SQLite.Database, max = SQLITE_STATEMENT_CACHE_SIZE): CachingSqlite {
  const kept = new Map<string, SQLite.Statement>();
  return {
    get cached() {
      return kept.size;
    },
    close() {
      kept.clear();
      sqlite.close();
    },
    prepare(sql: string): SqliteStatement {
      const statement = kept.get(sql);
      if (statement !== undefined) {
        // A statement mid-iteration (a streamed select) cannot run again until it ends: that caller gets its own.
        if (statement.busy) return sqlite.prepare(sql);
        kept.delete(sql);
        kept.set(sql, statement);
        return statement;
      }
      const fresh = sqlite.prepare(sql);
      kept.set(sql, fresh);
      if (kept.size > max) kept.delete(kept.keys().next().value!);
      return fresh;
    },
  };
}
