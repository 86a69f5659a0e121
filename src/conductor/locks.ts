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
    super('MACHINE_LOCKED', 'conflict', `machine '${machine}' is locked by ${holder}; try again when that operation has finished (a lock left by a crashed process is cleared when it restarts, or with bin/anvil machine unlock ${machine})`);
    this.holder = holder;
  }
}

/** Who holds a lock: process, host and the operation, e.g. "anvil serve (pid 42 on lab1): power on". */
export function holderName(who: string, operation: string): string {
  return `${who} (pid ${process.pid} on ${hostname()}): ${operation}`;
}

export class MachineLocks {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Takes the lock or throws MachineLockedError naming the holder. */
  async acquire(machine: { id: number; name: string }, holder: string): Promise<void> {
    const result = await this.#db.updateTable('machines').set({ reservation: holder }).where('id', '=', machine.id).where('reservation', 'is', null).executeTakeFirst();
    if (result.numUpdatedRows === 1n) return;
    const row = await this.#db.selectFrom('machines').select('reservation').where('id', '=', machine.id).executeTakeFirst();
    throw new MachineLockedError(machine.name, row?.reservation ?? 'another operation');
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

  /** Clears locks this process left behind (at start-up and shutdown, as Ironic's conductor). Returns how many. */
  async clearHeldBy(prefix: string): Promise<number> {
    const result = await this.#db.updateTable('machines').set({ reservation: null }).where('reservation', 'like', `${prefix}%`).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Removes a lock whatever holds it (an operator's recovery). */
  async breakLock(machine: { id: number }): Promise<string | null> {
    const row = await this.#db.selectFrom('machines').select('reservation').where('id', '=', machine.id).executeTakeFirst();
    await this.#db.updateTable('machines').set({ reservation: null }).where('id', '=', machine.id).execute();
    return row?.reservation ?? null;
  }
}
