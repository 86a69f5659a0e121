// What the kill -9 tests of `anvil serve` (test/cli/kill9-*.test.ts) share: the hard kill
// itself, the database's own integrity check, the temp files a crash can leave, and waiting
// for a condition the test can only poll (a file growing on disk, a state in the API).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { ANVIL, exec, type ServerProcess } from './anvil-process.ts';

/** The database of a data directory (src/app/config.ts DATABASE_FILE). */
export const databaseOf = (data: string): string => join(data, 'anvil.db');

/** SIGKILL: no handler runs, no request finishes, nothing is cleaned up. Resolves once it is gone. */
export async function killHard(server: ServerProcess): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = once(server.child, 'exit');
  assert.ok(server.child.kill('SIGKILL'), 'the server took the signal');
  const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  assert.equal(signal, 'SIGKILL');
}

/**
 * `pragma integrity_check` and `pragma foreign_key_check` on the data directory's database,
 * opened read-only by this process (SQLite replays a WAL a killed writer left). Call it with no
 * server running: what it reads is what the next start would find.
 */
export function checkDatabase(data: string): { integrity: string; foreignKeyProblems: number } {
  const db = new SQLite(databaseOf(data), { readonly: true, fileMustExist: true });
  try {
    const integrity = (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join('; ');
    const foreignKeyProblems = (db.pragma('foreign_key_check') as unknown[]).length;
    return { integrity, foreignKeyProblems };
  } finally {
    db.close();
  }
}

/** Asserts the database is whole: integrity_check says ok and no row points at a row that is gone. */
export function assertDatabaseWhole(data: string, when: string): void {
  const { integrity, foreignKeyProblems } = checkDatabase(data);
  assert.equal(integrity, 'ok', `integrity_check ${when}`);
  assert.equal(foreignKeyProblems, 0, `foreign_key_check ${when}`);
}

/**
 * Temp files of the data directory: half-received run uploads (uploads/.incoming-*), images
 * and captures (images/.incoming-*), half-staged agent copies (tftp/anvil-agent/*.tmp).
 */
export function tempFiles(data: string): string[] {
  const list = (dir: string, match: (name: string) => boolean) => {
    try {
      return readdirSync(join(data, dir))
        .filter(match)
        .map((name) => join(dir, name));
    } catch {
      return [];
    }
  };
  return [
    ...list('uploads', (n) => n.startsWith('.incoming-')),
    ...list('images', (n) => n.startsWith('.incoming-')),
    ...list('tftp/anvil-agent', (n) => n.endsWith('.tmp')),
  ];
}

/** Bytes of the temp files in `dir` of the data directory whose names start with `prefix`. */
export function tempBytes(data: string, dir: string, prefix = '.incoming-'): number {
  let total = 0;
  try {
    for (const name of readdirSync(join(data, dir))) {
      if (!name.startsWith(prefix)) continue;
      total += statSync(join(data, dir, name), { throwIfNoEntry: false })?.size ?? 0;
    }
  } catch {
    return 0;
  }
  return total;
}

/** Polls `check` every 50 ms until it returns a value other than undefined; fails after `timeoutMs` saying `what`. */
export async function waitUntil<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An admin API token made with the CLI, before any server runs. */
export async function adminToken(data: string): Promise<string> {
  const made = await exec(ANVIL, ['token', 'create', '--role', 'admin', '--data', data]);
  assert.equal(made.code, 0, made.stderr);
  return made.stdout.trim();
}

/** JSON log lines of a server's output with this message (anvil serve logs JSON when not on a terminal). */
export function logLines(output: string, message: RegExp): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (message.test(String(parsed.msg))) lines.push(parsed);
    } catch {
      // a line cut by the kill
    }
  }
  return lines;
}
