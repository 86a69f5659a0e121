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
      `machine '${machine}' is locked by ${holder}; try again when that operation has finished (a lock left by a process that died on this host, or by an anvil serve that stopped heartbeating, is released by itself; for one held by a command on another host that is gone, run bin/anvil machine unlock ${machine})`,
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

/**
 * Which conductor this process is (its locks say so) and whether another is dead: a lock held
 * by a conductor that stopped heartbeating protects nothing, whatever host it ran on.
 */
export interface LockConductors {
  readonly id: string | undefined;
  isDead(id: string): Promise<boolean>;
}

export class MachineLocks {
  readonly #db: Kysely<Database>;
  readonly #onStale: StaleLockListener | undefined;
  #conductors: LockConductors | undefined;
  /** Locks this process could not release (the database went away mid-operation): released at the next clearStale. */
  readonly #unreleased = new Map<number, string>();

  constructor(db: Kysely<Database>, onStale?: StaleLockListener, conductors?: LockConductors) {
    this.#db = db;
    this.#onStale = onStale;
    this.#conductors = conductors;
  }

  /** From now on, locks carry this process's conductor and dead conductors' locks are stale. */
  useConductors(conductors: LockConductors): void {
    this.#conductors = conductors;
  }

  /** A lock nobody alive holds: a dead process on this host, or a dead conductor. */
  async #isStale(holder: string, conductor: string | null): Promise<boolean> {
    if (isStaleHolder(holder)) return true;
    return conductor !== null && this.#conductors !== undefined && (await this.#conductors.isDead(conductor));
  }

  /**
   * Takes the lock or throws MachineLockedError naming the holder. A lock left by a dead process
   * on this host, or by a dead conductor, is taken over (compare-and-swap on the old holder, so
   * two takers can't both win).
   */
  async acquire(machine: { id: number; name: string }, holder: string): Promise<void> {
    const conductor = this.#conductors?.id ?? null;
    const result = await this.#db
      .updateTable('machines')
      .set({ reservation: holder, reservation_conductor: conductor })
      .where('id', '=', machine.id)
      .where('reservation', 'is', null)
      .executeTakeFirst();
    if (result.numUpdatedRows === 1n) return;
    const row = await this.#db.selectFrom('machines').select(['reservation', 'reservation_conductor']).where('id', '=', machine.id).executeTakeFirst();
    const current = row?.reservation;
    if (current && (await this.#isStale(current, row.reservation_conductor))) {
      const takeover = await this.#db
        .updateTable('machines')
        .set({ reservation: holder, reservation_conductor: conductor })
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

  /**
   * Releases the lock. When that fails (the database away), the lock is remembered and released
   * by the next clearStale: a live process's lock is never judged stale, so nobody else would.
   */
  async release(machine: { id: number }, holder: string): Promise<void> {
    try {
      await this.#release(machine.id, holder);
      this.#unreleased.delete(machine.id);
    } catch (error) {
      this.#unreleased.set(machine.id, holder);
      throw error;
    }
  }

  async #release(id: number, holder: string): Promise<void> {
    await this.#db
      .updateTable('machines')
      .set({ reservation: null, reservation_conductor: null })
      .where('id', '=', id)
      .where('reservation', '=', holder)
      .execute();
  }

  /** Locks whose release failed and is still to do. */
  get unreleased(): number {
    return this.#unreleased.size;
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
   * Clears every lock held by a dead process on this host or by a dead conductor (at server
   * start-up, as Ironic's conductor does for its own reservations, and at each heartbeat: the
   * takeover of a dead conductor's locks), after the releases of this process's own that
   * failed. Returns the machines and who held them (the dead ones).
   */
  async clearStale(): Promise<{ name: string; holder: string }[]> {
    for (const [id, holder] of [...this.#unreleased]) {
      await this.#release(id, holder);
      this.#unreleased.delete(id);
    }
    const held = await this.#db
      .selectFrom('machines')
      .select(['id', 'name', 'reservation', 'reservation_conductor'])
      .where('reservation', 'is not', null)
      .execute();
    const cleared: { name: string; holder: string }[] = [];
    const dead = new Map<string, boolean>();
    for (const row of held) {
      if (!row.reservation) continue;
      let stale = isStaleHolder(row.reservation);
      const conductor = row.reservation_conductor;
      if (!stale && conductor !== null && this.#conductors) {
        if (!dead.has(conductor)) dead.set(conductor, await this.#conductors.isDead(conductor));
        stale = dead.get(conductor)!;
      }
      if (!stale) continue;
      const result = await this.#db
        .updateTable('machines')
        .set({ reservation: null, reservation_conductor: null })
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
    await this.#db.updateTable('machines').set({ reservation: null, reservation_conductor: null }).where('id', '=', machine.id).execute();
    return row?.reservation ?? null;
  }
}
