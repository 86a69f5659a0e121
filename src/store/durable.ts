// Writes that must survive an OS crash or power loss once acknowledged (src/store/README.md
// lists the classes). SQLite runs in WAL mode with synchronous = NORMAL: a commit is safe from
// a crash of anvil, but the last commits before a power loss may be lost, since the WAL is
// synced only at checkpoints. A durable write commits with synchronous = FULL, which syncs the
// WAL at that commit. The pragma belongs to the connection and cannot change inside a
// transaction, so it is raised before and put back after, while the connection is held.
// PostgreSQL commits durably by default (synchronous_commit = on); a durable write sets it on
// for its own transaction all the same, in case the cluster runs with it off.
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SqliteAdapter, sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.ts';

/** SQLite's synchronous level for everything else: high-rate, re-derivable writes (boot log, discovered, heartbeats). */
export const SQLITE_SYNCHRONOUS = 'NORMAL';
/** SQLite's synchronous level for durable writes. */
export const SQLITE_DURABLE_SYNCHRONOUS = 'FULL';

function isSqlite(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}

/** Runs `fn` in a transaction whose commit is on disk when this resolves. */
export async function durably<T>(db: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  if (!isSqlite(db)) {
    // On by default, but a site may turn it off for the cluster: a durable write insists.
    return db.transaction().execute(async (trx) => {
      await sql`set local synchronous_commit = on`.execute(trx);
      return fn(trx);
    });
  }
  // SQLite refuses to change the level inside a transaction, so it is changed around it, on
  // one connection held throughout: no other query runs between the pragmas and the commit.
  return db.connection().execute(async (connection) => {
    await sql.raw(`pragma synchronous = ${SQLITE_DURABLE_SYNCHRONOUS}`).execute(connection);
    try {
      return await connection.transaction().execute(fn);
    } finally {
      await sql.raw(`pragma synchronous = ${SQLITE_SYNCHRONOUS}`).execute(connection);
    }
  });
}

/**
 * Makes a file written and renamed into place survive power loss: its data, then the directory
 * entry. Called before the row that names the file is committed.
 */
export async function syncFile(path: string): Promise<void> {
  const file = await open(path, 'r');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
  await syncDirectory(dirname(path));
}

/** Syncs a directory, so an entry created or renamed in it survives power loss. */
export async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
