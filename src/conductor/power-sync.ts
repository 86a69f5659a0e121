// Power sync (Ironic's _sync_power_states): every interval, read the power state of every
// machine not in maintenance, a few at a time, and record each change. A machine whose
// controller fails maxFailures times in a row goes into maintenance with the reason and the
// fault 'power failure'; when its controller answers again, that maintenance — and only
// maintenance anvil set this way — is cleared.
import type { Kysely } from 'kysely';
import type { Database, Machine } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import type { MachineControl } from './machine-control.ts';

export const POWER_SYNC_DEFAULTS = {
  /** Ironic used 60 s until 2025 (now 120 s); anvil's fleets are smaller per process. */
  intervalMs: 60_000,
  /** Reads in flight at once (Ironic's sync_power_state_workers). */
  concurrency: 8,
  /** Consecutive failed reads before maintenance (Ironic's power_state_sync_max_retries). */
  maxFailures: 3,
} as const;

/** The fault power sync sets, and the only one it clears. */
export const POWER_FAILURE = 'power failure';

export interface PowerSyncLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface PowerSyncOptions {
  readonly intervalMs?: number;
  readonly concurrency?: number;
  readonly maxFailures?: number;
  readonly log?: PowerSyncLog;
  /** Whether this process syncs a machine (the conductor owns it by the hash ring); default every machine. */
  readonly owns?: (machineName: string) => boolean;
  /** Told after each pass how long it took and what it found: the server's metrics. */
  readonly onPass?: (report: SyncReport, seconds: number) => void;
}

export interface SyncReport {
  checked: number;
  changed: string[];
  failed: string[];
  maintenanceSet: string[];
  maintenanceCleared: string[];
}

const silent: PowerSyncLog = { info: () => {}, warn: () => {}, error: () => {} };

export class PowerSync {
  readonly #db: Kysely<Database>;
  readonly #control: MachineControl;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #onPass: (report: SyncReport, seconds: number) => void;
  readonly #concurrency: number;
  readonly #maxFailures: number;
  readonly #log: PowerSyncLog;
  readonly #owns: (machineName: string) => boolean;
  /** Consecutive failed reads per machine id. */
  readonly #failures = new Map<number, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(db: Kysely<Database>, control: MachineControl, clock: Clock, options: PowerSyncOptions = {}) {
    this.#db = db;
    this.#control = control;
    this.#clock = clock;
    this.#intervalMs = options.intervalMs ?? POWER_SYNC_DEFAULTS.intervalMs;
    this.#concurrency = Math.max(1, options.concurrency ?? POWER_SYNC_DEFAULTS.concurrency);
    this.#maxFailures = Math.max(1, options.maxFailures ?? POWER_SYNC_DEFAULTS.maxFailures);
    this.#log = options.log ?? silent;
    this.#onPass = options.onPass ?? (() => {});
    this.#owns = options.owns ?? (() => true);
  }

  /** One pass over every machine with a controller that this conductor owns. */
  async runOnce(): Promise<SyncReport> {
    const report: SyncReport = { checked: 0, changed: [], failed: [], maintenanceSet: [], maintenanceCleared: [] };
    // Machines held by an operation are skipped: the operation records their state itself.
    const candidates = await this.#db
      .selectFrom('machines')
      .selectAll()
      .where('driver', '!=', 'manual')
      .where('reservation', 'is', null)
      .where((eb) => eb.or([eb('maintenance', '=', 0), eb('fault', '=', POWER_FAILURE)]))
      .orderBy('id')
      .execute();
    // The ring is read once per pass: a machine whose owner changes mid-pass is synced by the
    // new owner from its next pass on (at worst twice, harmlessly: a read under a shared task).
    const machines = candidates.filter((m) => this.#owns(m.name));
    const mine = new Set(machines.map((m) => m.id));
    // A machine that went to another conductor starts its failure count afresh if it comes back.
    for (const id of this.#failures.keys()) if (!mine.has(id)) this.#failures.delete(id);
    // Failing machines first, as Ironic does, so a slow pass still retries them.
    machines.sort((a, b) => (this.#failures.get(b.id) ?? 0) - (this.#failures.get(a.id) ?? 0));
    let next = 0;
    // Not a controller's failure (those are #failed's): the database went away mid-pass, most
    // likely, and then every machine after it fails alike. The first is logged, the rest counted.
    const unexpected: string[] = [];
    const worker = async () => {
      while (next < machines.length && !this.#stopped) {
        const machine = machines[next++]!;
        report.checked++;
        await this.#syncOne(machine, report).catch((error: unknown) => {
          if (unexpected.length === 0) this.#log.error({ err: error, machine: machine.name }, 'power sync failed unexpectedly');
          unexpected.push(machine.name);
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, machines.length) }, worker));
    if (unexpected.length > 1)
      this.#log.error(
        { machines: unexpected.length, first: unexpected.slice(0, 10) },
        `power sync failed unexpectedly for ${unexpected.length - 1} more machines this pass`,
      );
    return report;
  }

  /** One machine, as a shared task: its writes (state, maintenance) apply only while nobody holds it exclusively. */
  async #syncOne(machine: Machine, report: SyncReport): Promise<void> {
    await this.#control.tasks.run(machine, { mode: 'shared', purpose: 'power sync' }, async (task) => {
      let state;
      try {
        state = await task.driver.power.getPowerState();
      } catch (error) {
        await this.#failed(machine, error as Error, report);
        return;
      }
      this.#failures.delete(machine.id);
      if (machine.fault === POWER_FAILURE) {
        const cleared = await this.#db
          .updateTable('machines')
          .set({ maintenance: 0, maintenance_reason: null, fault: null, updated_at: stamp(this.#clock) })
          .where('id', '=', machine.id)
          .where('fault', '=', POWER_FAILURE)
          .where('reservation', 'is', null)
          .executeTakeFirst();
        if (cleared.numUpdatedRows === 1n) {
          await this.#control.event(machine.id, 'maintenance', 'the controller answers again; maintenance set by power sync cleared');
          report.maintenanceCleared.push(machine.name);
          this.#log.info({ machine: machine.name }, 'controller answers again; maintenance cleared');
        }
      }
      // The state the pass began with: nothing to record, and no query (10,000 of them a pass). One
      // changed by an operation since is left as that operation recorded it.
      if (state === machine.power_state) return;
      if (await this.#control.recordPower(task, state, 'power sync')) report.changed.push(machine.name);
    });
  }

  async #failed(machine: Machine, error: Error, report: SyncReport): Promise<void> {
    const count = (this.#failures.get(machine.id) ?? 0) + 1;
    this.#failures.set(machine.id, count);
    report.failed.push(machine.name);
    if (machine.maintenance === 1) return;
    this.#log.warn(
      { machine: machine.name, failures: count, code: (error as { code?: string }).code },
      `power sync could not read the power state: ${error.message}`,
    );
    if (count === 1) await this.#control.event(machine.id, 'controller', `power sync could not read the power state: ${error.message}`);
    if (count < this.#maxFailures) return;
    const reason = `power sync: the controller failed ${count} times in a row: ${error.message}`;
    const set = await this.#db
      .updateTable('machines')
      .set({ maintenance: 1, maintenance_reason: reason, fault: POWER_FAILURE, power_state: 'unknown', updated_at: stamp(this.#clock) })
      .where('id', '=', machine.id)
      .where('maintenance', '=', 0)
      .where('reservation', 'is', null)
      .executeTakeFirst();
    if (set.numUpdatedRows === 1n) {
      await this.#control.event(machine.id, 'maintenance', `maintenance: ${reason}`);
      report.maintenanceSet.push(machine.name);
    }
  }

  /** Runs a pass every interval until the signal aborts; stop() waits for the pass in flight. */
  start(signal: AbortSignal): void {
    // A pass that fails (the database away) is logged once, not at every interval until it is back.
    let failing = false;
    const schedule = () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => {
        const start = performance.now();
        this.#running = this.runOnce()
          .then((r) => {
            if (failing) this.#log.info({}, 'power sync passes again');
            failing = false;
            const seconds = (performance.now() - start) / 1000;
            this.#onPass(r, seconds);
            // One line a pass, changes or not: that sync runs, how many it read and how long it took.
            this.#log.info({ ...r, seconds: Math.round(seconds * 1000) / 1000 }, 'power sync');
          })
          .catch((error: unknown) => {
            if (!failing) this.#log.error({ err: error }, 'power sync pass failed; it is tried again every interval and logged when it passes');
            failing = true;
          })
          .finally(schedule);
      }, this.#intervalMs);
      this.#timer.unref();
    };
    if (signal.aborted) return;
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }
}

/**
 * Power-sync settings from the environment, for `anvil serve` and `anvil demo`:
 * ANVIL_POWER_SYNC_INTERVAL (seconds; 0 turns the loop off), ANVIL_POWER_SYNC_WORKERS,
 * ANVIL_POWER_SYNC_MAX_FAILURES. Invalid values are an error naming the variable.
 */
export function powerSyncFromEnv(env: NodeJS.ProcessEnv): PowerSyncOptions | false {
  const read = (name: string, min: number): number | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min) throw new Error(`${name}='${text}' must be a number of at least ${min}`);
    return n;
  };
  const interval = read('ANVIL_POWER_SYNC_INTERVAL', 0);
  if (interval === 0) return false;
  const workers = read('ANVIL_POWER_SYNC_WORKERS', 1);
  const maxFailures = read('ANVIL_POWER_SYNC_MAX_FAILURES', 1);
  return {
    ...(interval !== undefined ? { intervalMs: Math.round(interval * 1000) } : {}),
    ...(workers !== undefined ? { concurrency: Math.floor(workers) } : {}),
    ...(maxFailures !== undefined ? { maxFailures: Math.floor(maxFailures) } : {}),
  };
}
