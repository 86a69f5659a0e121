// Helpers for tests that run several `anvil serve` processes on one PostgreSQL database: waiting
// for a condition or a log line, and reading what each process's power sync changed.
import type { ServerProcess } from './anvil-process.ts';

/** Polls `check` until it returns a value (not undefined), or fails after `ms` saying what it last saw. */
export async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (last: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves once the server's output from `from` on (so far or to come) matches; fails after `ms`. */
export async function logged(server: ServerProcess, pattern: RegExp, from = 0, ms = 120_000): Promise<void> {
  await until(`log line ${pattern} from pid ${server.child.pid}`, ms, async () => (pattern.test(server.logs().slice(from)) ? true : undefined));
}

/** The server's JSON log lines from `from` on (pino's output; other lines are skipped). */
export function logEntries(server: ServerProcess, from = 0): Record<string, unknown>[] {
  const entries: Record<string, unknown>[] = [];
  for (const line of server.logs().slice(from).split('\n')) {
    try {
      const entry = JSON.parse(line) as unknown;
      if (entry && typeof entry === 'object') entries.push(entry as Record<string, unknown>);
    } catch {
      // not a JSON line, or the last one still being written
    }
  }
  return entries;
}

/** The machines whose power change a server's power sync logged. */
export function synced(server: ServerProcess, from = 0): Set<string> {
  const names = new Set<string>();
  for (const entry of logEntries(server, from))
    if (entry.msg === 'power sync') for (const name of (entry.changed as string[] | undefined) ?? []) names.add(name);
  return names;
}
