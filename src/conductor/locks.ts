// A machine's exclusive lock (Ironic's reservation): an atomic UPDATE that succeeds only when
// nobody holds it, released in finally. The API, the CLI and power sync all take it, so two
// operations never race on one machine, whichever process runs them.
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { AnvilError } from '../common/errors.ts';

export class MachineLockedError extends AnvilError {
  override readonly name = 'MachineLockedError';
  readonly holder: string;
  constructor(machine: string, holder: string) {
    super(
      'MACHINE_LOCKED',
      'conflict',
      `machine '${machine}' is locked by ${holder}; try again when that operation has finished (a lock left by a process that died on this host is released by itself; for one held from another host that is gone, run bin/anvil machine unlock ${machine})`,
    );
    this.holder = holder;
  }
}

/** Who holds a lock: process, host and the operation, e.g. "anvil serve (pid 42 on lab1): power on". */
export function holderName(who: string, operation: string): string {
  return `${who} (pid ${process.pid} on ${hostname()}): ${operation}`;
}

/**
 * True when `holder` names a process on this host that no longer runs: a CLI killed mid-operation
 * or a server that crashed. Such a lock protects nothing, so it may be taken over. Locks held from
 * other hosts are never judged stale here (their pids mean nothing on this one).
 */
export function isStaleHolder(holder: string): boolean {
  const match = /\(pid (\d+) on ([^)]+)\)/.exec(holder);
  if (!match || match[2] !== hostname()) return false;
  const pid = Number(match[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Told when a dead process's lock is cleared or taken over, to leave a trace in the machine's events. */
export type StaleLockListener = (machine: { id: number; name: string }, holder: string) => Promise<void>;

export class MachineLocks {
  readonly #db: Kysely<Database>;
  readonly #onStale: StaleLockListener | undefined;

  constructor(db: Kysely<Database>, onStale?: StaleLockListener) {
    this.#db = db;
    this.#onStale = onStale;
  }

  /**
   * Takes the lock or throws MachineLockedError naming the holder. A lock left by a dead process
   * on this host is taken over (compare-and-swap on the old holder, so two takers can't both win).
   */
  async acquire(machine: { id: number; name: string }, holder: string): Promise<void> {
    const result = await this.#db
      .updateTable('machines')
      .set({ reservation: holder })
      .where('id', '=', machine.id)
      .where('reservation', 'is', null)
      .executeTakeFirst();
    if (result.numUpdatedRows === 1n) return;
    const row = await this.#db.selectFrom('machines').select('reservation').where('id', '=', machine.id).executeTakeFirst();
    const current = row?.reservation;
    if (current && isStaleHolder(current)) {
      const takeover = await this.#db
        .updateTable('machines')
        .set({ reservation: holder })
        .where('id', '=', machine.id)
        .where('reservation', '=', current)
        .executeTakeFirst();
      if (takeover.numUpdatedRows === 1n) {
        await this.#onStale?.(machine, current);
        return;
      }
    }
    throw new MachineLockedError(machine.name, current ?? 'another operation');
  }

  async release(machine: { id: number }, holder: string): Promise<void> {
    await this.#db.updateTable('machines').set({ reservation: null }).where('id', '=', machine.id).where('reservation', '=', holder).execute();
  }

  /** Runs `task` holding the machine's lock. */
  async with<T>(machine: { id: number; name: string }, holder: string, task: () => Promise<T>): Promise<T> {
    await this.acquire(machine, holder);
    try {
      return await task();
    } finally {
      await this.release(machine, holder);
    }
  }

  /**
   * Clears every lock held by a dead process on this host (at server start-up, as Ironic's
   * conductor does for its own reservations). Returns the machines and who held them.
   */
  async clearStale(): Promise<{ name: string; holder: string }[]> {
    const held = await this.#db.selectFrom('machines').select(['id', 'name', 'reservation']).where('reservation', 'is not', null).execute();
    const cleared: { name: string; holder: string }[] = [];
    for (const row of held) {
      if (!row.reservation || !isStaleHolder(row.reservation)) continue;
      const result = await this.#db
        .updateTable('machines')
        .set({ reservation: null })
        .where('id', '=', row.id)
        .where('reservation', '=', row.reservation)
        .executeTakeFirst();
      if (result.numUpdatedRows !== 1n) continue;
      cleared.push({ name: row.name, holder: row.reservation });
      await this.#onStale?.(row, row.reservation);
    }
    return cleared;
  }

  /** Removes a lock whatever holds it (an operator's recovery). */
  async breakLock(machine: { id: number }): Promise<string | null> {
    const row = await this.#db.selectFrom('machines').select('reservation').where('id', '=', machine.id).executeTakeFirst();
    await this.#db.updateTable('machines').set({ reservation: null }).where('id', '=', machine.id).execute();
    return row?.reservation ?? null;
  }
}
