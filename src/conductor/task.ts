// Tasks (Ironic's task manager): every operation on a machine runs as a task that acquires the
// machine shared or exclusive, reads its row once under that lock, builds its driver once from
// that row, and releases the lock when the operation ends, however it ends.
//
// What the two modes mean, as in Ironic:
// - exclusive: the machine's reservation is taken (an atomic UPDATE, see locks.ts); no other
//   exclusive task runs on it meanwhile, in this process or any other. Every change of the
//   machine's state — power, boot device, driver, what the driver remembers — needs it.
// - shared: nothing is reserved, so a shared task neither waits for nor blocks anyone. It may
//   only read (the power state, the boot device); what it observes is recorded only when no
//   exclusive task holds the machine. Anything more needs upgrade(), which takes the
//   reservation or fails with MachineLockedError naming the holder.
import type { Kysely } from 'kysely';
import type { Database, Machine } from '../store/schema.ts';
import type { Machines } from '../machines/machines.ts';
import { AnvilError } from '../common/errors.ts';
import type { HardwareTypes } from '../drivers/registry.ts';
import type { SecretBox } from '../drivers/secrets.ts';
import type { Driver, DriverState } from '../drivers/types.ts';
import { observedDriver, type DriverCallObserver } from './driver-calls.ts';
import { holderName, type MachineLocks } from './locks.ts';

export type LockMode = 'shared' | 'exclusive';

/** Thrown when a shared task tries to change its machine (Ironic's ExclusiveLockRequired). */
export class ExclusiveLockRequiredError extends AnvilError {
  override readonly name = 'ExclusiveLockRequiredError';
  constructor(machine: string, what: string) {
    super('EXCLUSIVE_LOCK_REQUIRED', 'internal', `${what} on machine '${machine}' needs its exclusive lock; this task holds it shared`);
  }
}

export function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** One operation's hold on one machine. */
export class Task {
  readonly holder: string;
  #machine: Machine;
  #mode: LockMode;
  #driver: Driver | undefined;
  readonly #manager: TaskManager;
  /** What the driver remembers between operations (driver_internal_info), read with the row. */
  #driverState: Record<string, unknown>;

  constructor(manager: TaskManager, machine: Machine, mode: LockMode, holder: string) {
    this.#manager = manager;
    this.#machine = machine;
    this.#mode = mode;
    this.holder = holder;
    this.#driverState = parseJsonObject(machine.driver_internal_info);
  }

  /** The machine's row as read when the lock was taken (re-read on upgrade). */
  get machine(): Machine {
    return this.#machine;
  }

  get mode(): LockMode {
    return this.#mode;
  }

  get exclusive(): boolean {
    return this.#mode === 'exclusive';
  }

  /** The machine's driver, built once from the row read under the lock (secrets decrypted only here). */
  get driver(): Driver {
    this.#driver ??= this.#manager.buildDriver(this.#machine, this.#state());
    return this.#driver;
  }

  /** Throws unless the task holds the machine exclusively. */
  requireExclusive(what: string): void {
    if (!this.exclusive) throw new ExclusiveLockRequiredError(this.#machine.name, what);
  }

  /** From shared to exclusive: takes the reservation (or throws MachineLockedError) and re-reads the row. */
  async upgrade(): Promise<void> {
    if (this.exclusive) return;
    this.#machine = await this.#manager.reserve(this.#machine, this.holder);
    this.#mode = 'exclusive';
    this.#driverState = parseJsonObject(this.#machine.driver_internal_info);
    this.#driver = undefined;
  }

  #state(): DriverState {
    return {
      get: async () => ({ ...this.#driverState }),
      set: async (values) => {
        this.requireExclusive('changing what the driver remembers');
        const next = { ...this.#driverState };
        for (const [k, v] of Object.entries(values)) {
          if (v === undefined) delete next[k];
          else next[k] = v;
        }
        this.#driverState = next;
        await this.#manager.saveDriverState(this.#machine, this.holder, next);
      },
    };
  }
}

export interface TaskOptions {
  readonly mode: LockMode;
  /** What the task does, for the lock holder's name: 'power on (operator alice)'. */
  readonly purpose: string;
}

export class TaskManager {
  readonly locks: MachineLocks;
  readonly types: HardwareTypes;
  readonly #db: Kysely<Database>;
  readonly #machines: Machines;
  readonly #secrets: SecretBox;
  readonly #process: string;
  readonly #observe: DriverCallObserver | undefined;

  constructor(parts: {
    db: Kysely<Database>;
    machines: Machines;
    locks: MachineLocks;
    types: HardwareTypes;
    secrets: SecretBox;
    process: string;
    observe?: DriverCallObserver | undefined;
  }) {
    this.#db = parts.db;
    this.#machines = parts.machines;
    this.locks = parts.locks;
    this.types = parts.types;
    this.#secrets = parts.secrets;
    this.#process = parts.process;
    this.#observe = parts.observe;
  }

  /** The lock holder name for an operation of this process: 'anvil serve (pid 42 on lab1): power on'. */
  holder(purpose: string): string {
    return holderName(this.#process, purpose);
  }

  /**
   * Runs `work` as a task on the machine (a name, a MAC, or a row already read: a shared task
   * then reads nothing more). The exclusive lock is released when `work` settles.
   */
  async run<T>(target: string | Machine, options: TaskOptions, work: (task: Task) => Promise<T>): Promise<T> {
    const found = typeof target === 'string' ? await this.#machines.find(target) : target;
    const holder = this.holder(options.purpose);
    const machine = options.mode === 'exclusive' ? await this.reserve(found, holder) : found;
    const task = new Task(this, machine, options.mode, holder);
    try {
      return await work(task);
    } finally {
      if (task.exclusive) await this.locks.release(machine, holder);
    }
  }

  /** Takes the machine's reservation and reads its row under it. */
  async reserve(machine: Machine, holder: string): Promise<Machine> {
    await this.locks.acquire(machine, holder);
    let row: Machine | undefined;
    try {
      row = await this.#machines.byId(machine.id);
    } catch (error) {
      // The database went away between the two: the lock must not outlive this failure.
      await this.locks.release(machine, holder).catch(() => undefined);
      throw error;
    }
    if (!row) {
      await this.locks.release(machine, holder);
      throw new AnvilError('UNKNOWN_MACHINE', 'not-found', `machine '${machine.name}' was deleted`);
    }
    return row;
  }

  buildDriver(machine: Machine, state: DriverState): Driver {
    const type = this.types.get(machine.driver);
    const info = type.validate(machine.name, this.#secrets.open(parseJsonObject(machine.driver_info)));
    const driver = type.create(info, { machine: machine.name, state });
    return this.#observe ? observedDriver(driver, machine.driver, this.#observe) : driver;
  }

  /** Writes driver_internal_info, only while `holder` has the reservation. */
  async saveDriverState(machine: Machine, holder: string, state: Record<string, unknown>): Promise<void> {
    await this.#db
      .updateTable('machines')
      .set({ driver_internal_info: JSON.stringify(state) })
      .where('id', '=', machine.id)
      .where('reservation', '=', holder)
      .execute();
  }
}
