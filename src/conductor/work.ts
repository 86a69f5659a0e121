// Work items (Ironic's RPC to a node's conductor, done through the database): an operation on
// a machine that needs its driver runs on the machine's owner conductor. The process an
// operator's request reached runs it inline when it owns the machine (always so on SQLite,
// and in a command-line process, which runs no queue); otherwise it queues a row in
// `work_items` and waits for the outcome the owner records there.
//
// The owner claims its rows with row locks (SELECT … FOR UPDATE SKIP LOCKED, then marks them
// running with its id, in one transaction), so two conductors never run one row, and a row
// lives in the database, not in a process's memory: a queued row of a conductor that died is
// claimed by the machine's new owner; a running one becomes interrupted at the survivors'
// next heartbeat (it may or may not have reached the controller, so it is reported, never
// run twice).
//
// Both sides poll: the claim loop and the requester's wait read the table every `pollMs`
// (200 ms by default), which bounds the delay a queued operation adds.
import type { Kysely } from 'kysely';
import type { Database, WorkItem } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import { AnvilError, httpStatusOf, type ErrorCategory } from '../common/errors.ts';

export const WORK_DEFAULTS = {
  /** How often the claim loop and the waiting requesters read the table: the delay a queued operation adds is at most about this. */
  pollMs: 200,
  /** Rows one conductor runs at once. */
  concurrency: 32,
  /** Grace beyond an operation's own timeout before its requester stops waiting for the answer. */
  answerGraceMs: 30_000,
  /** Finished rows are removed after this long. */
  forgetAfterMs: 24 * 3_600_000,
} as const;

export type WorkState = 'queued' | 'running' | 'done' | 'failed' | 'interrupted';
const FINISHED: readonly WorkState[] = ['done', 'failed', 'interrupted'];

/** Runs one kind of work on the owner: the machine's name, the arguments (JSON), who asked; answers JSON. */
export type WorkHandler = (machine: string, args: Record<string, unknown>, who: string) => Promise<unknown>;

/** What the queue needs of the conductors (conductors.ts). */
export interface WorkConductors {
  readonly id: string | undefined;
  readonly heartbeatMs: number;
  readonly deadAfterMs: number;
  owns(machineName: string): boolean;
  ownerOf(machineName: string): string | undefined;
  isDead(id: string): Promise<boolean>;
}

export interface WorkLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface WorkOptions {
  readonly pollMs?: number;
  readonly concurrency?: number;
  /** PostgreSQL: claims take row locks (SQLite has one writer and no FOR UPDATE). */
  readonly rowLocks: boolean;
  /** A failure because the database is away, as STORE_UNREACHABLE (the store's `away`). */
  readonly away?: (error: unknown) => AnvilError | undefined;
}

export interface SubmitOptions<T> {
  /** How long the operation itself may take once claimed (its requester waits this plus a grace). */
  readonly timeoutMs: number;
  /** The operation here, when this process owns the machine. */
  readonly inline: () => Promise<T>;
}

interface Waiter {
  readonly machine: string;
  readonly kind: string;
  readonly claimBy: number;
  readonly timeoutMs: number;
  answerBy: number | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Tries to record an operation's outcome while the database is away: 10 minutes at the default 200 ms. */
const RECORD_ATTEMPTS = 3_000;

function errorOf(row: WorkItem): AnvilError {
  const category = (row.error_category ?? 'internal') as ErrorCategory;
  return new AnvilError(row.error_code ?? 'INTERNAL', category in httpStatusOf ? category : 'internal', row.error ?? `${row.kind} failed`);
}

export class WorkQueue {
  readonly pollMs: number;
  readonly concurrency: number;
  readonly #db: Kysely<Database>;
  readonly #conductors: WorkConductors;
  readonly #clock: Clock;
  readonly #rowLocks: boolean;
  readonly #handlers = new Map<string, WorkHandler>();
  readonly #waiters = new Map<number, Waiter>();
  readonly #running = new Set<Promise<void>>();
  #log: WorkLog | undefined;
  #routing = false;
  #claimTimer: ReturnType<typeof setTimeout> | undefined;
  #waitTimer: ReturnType<typeof setTimeout> | undefined;
  #claiming: Promise<unknown> | undefined;
  #stopped = false;
  #waitFailing = false;
  readonly #away: (error: unknown) => AnvilError | undefined;

  constructor(db: Kysely<Database>, conductors: WorkConductors, clock: Clock, options: WorkOptions) {
    this.#db = db;
    this.#conductors = conductors;
    this.#clock = clock;
    this.#rowLocks = options.rowLocks;
    this.#away = options.away ?? (() => undefined);
    this.pollMs = options.pollMs ?? WORK_DEFAULTS.pollMs;
    this.concurrency = options.concurrency ?? WORK_DEFAULTS.concurrency;
  }

  /** Says how `kind` runs on the owner. */
  handle(kind: string, handler: WorkHandler): void {
    this.#handlers.set(kind, handler);
  }

  /** How long a queued row may wait for its owner: long enough for a dead owner's machines to be taken over. */
  get claimWaitMs(): number {
    return this.#conductors.deadAfterMs + 3 * this.#conductors.heartbeatMs + WORK_DEFAULTS.answerGraceMs;
  }

  /**
   * Runs an operation on `machine` (its name): here when this process owns it or runs no
   * queue, else on its owner through a queued row, answering what the owner answered (its
   * value, or its error with the same code and category, so the HTTP answer is the same).
   */
  async submit<T>(machine: string, kind: string, args: Record<string, unknown>, who: string, options: SubmitOptions<T>): Promise<T> {
    if (!this.#routing || this.#conductors.owns(machine)) return options.inline();
    const id = await this.enqueue(machine, kind, args, who);
    const now = Date.now();
    return new Promise<T>((resolve, reject) => {
      this.#waiters.set(id, {
        machine,
        kind,
        claimBy: now + this.claimWaitMs,
        timeoutMs: options.timeoutMs + WORK_DEFAULTS.answerGraceMs,
        answerBy: undefined,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.#scheduleWait();
    });
  }

  /** Queues an operation for the machine's owner without waiting for it (a step after an agent's result). Returns the row's id. */
  async enqueue(machine: string, kind: string, args: Record<string, unknown>, who: string): Promise<number> {
    if (!this.#handlers.has(kind)) throw new Error(`no handler for work of kind '${kind}'`);
    const row = await this.#db
      .insertInto('work_items')
      .values({
        machine_name: machine,
        kind,
        args: JSON.stringify(args),
        requested_by: who,
        requested_conductor: this.#conductors.id ?? null,
        created_at: stamp(this.#clock),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async get(id: number): Promise<WorkItem | undefined> {
    return this.#db.selectFrom('work_items').selectAll().where('id', '=', id).executeTakeFirst();
  }

  // ---- the requester's side ---------------------------------------------------------------

  #scheduleWait(): void {
    if (this.#waitTimer !== undefined || this.#waiters.size === 0) return;
    this.#waitTimer = setTimeout(() => {
      this.#checkWaiters()
        .then(() => (this.#waitFailing = false))
        .catch((error: unknown) => {
          if (!this.#waitFailing)
            this.#log?.warn({ err: error }, `reading queued operations failed (retrying every ${this.pollMs} ms): ${(error as Error).message}`);
          this.#waitFailing = true;
          this.#answerAway(error);
        })
        .finally(() => {
          this.#waitTimer = undefined;
          this.#scheduleWait();
        });
    }, this.pollMs);
  }

  /**
   * The database went away while requests waited: each is answered at once with the 503 that
   * says so (rather than held until its deadline), and told its operation is the owner's to
   * finish — a queued one is claimed once the database is back, a running one's outcome recorded then.
   */
  #answerAway(error: unknown): void {
    const away = this.#away(error);
    if (!away) return;
    for (const [id, waiter] of this.#waiters) {
      this.#waiters.delete(id);
      waiter.reject(
        new AnvilError(
          away.code,
          away.category,
          `${away.message}; the ${waiter.kind} of machine '${waiter.machine}' was handed to its owner conductor before that (work item ${id}); it runs, or ran, there, and its outcome is recorded once the database is back: look at the machine's events`,
        ),
      );
    }
  }

  async #checkWaiters(): Promise<void> {
    const ids = [...this.#waiters.keys()];
    if (ids.length === 0) return;
    const rows = await this.#db.selectFrom('work_items').selectAll().where('id', 'in', ids).execute();
    const now = Date.now();
    for (const row of rows) {
      const waiter = this.#waiters.get(row.id);
      if (!waiter) continue;
      const state = row.state as WorkState;
      if (state === 'done') {
        this.#waiters.delete(row.id);
        waiter.resolve(row.result === null ? undefined : JSON.parse(row.result));
      } else if (FINISHED.includes(state)) {
        this.#waiters.delete(row.id);
        waiter.reject(errorOf(row));
      } else if (state === 'queued' && now > waiter.claimBy) {
        // Withdrawn so that it never runs after its requester was told it failed.
        const owner = this.#conductors.ownerOf(waiter.machine) ?? 'none alive';
        const message = `${waiter.kind} of machine '${waiter.machine}' was not taken up by its owner conductor (${owner}) within ${Math.round(this.claimWaitMs / 1000)} s; it was withdrawn and did not run: check that conductor (anvil conductor list) and try again`;
        const withdrawn = await this.#db
          .updateTable('work_items')
          .set({ state: 'failed', finished_at: stamp(this.#clock), error: message, error_code: 'OWNER_UNAVAILABLE', error_category: 'unavailable' })
          .where('id', '=', row.id)
          .where('state', '=', 'queued')
          .executeTakeFirst();
        if (withdrawn.numUpdatedRows === 1n) {
          this.#waiters.delete(row.id);
          waiter.reject(new AnvilError('OWNER_UNAVAILABLE', 'unavailable', message));
        }
      } else if (state === 'running') {
        waiter.answerBy ??= now + waiter.timeoutMs;
        if (now > waiter.answerBy) {
          this.#waiters.delete(row.id);
          waiter.reject(
            new AnvilError(
              'OWNER_NO_ANSWER',
              'unavailable',
              `${waiter.kind} of machine '${waiter.machine}' is still running on its owner conductor ${row.conductor ?? '?'} after ${Math.round(waiter.timeoutMs / 1000)} s (work item ${row.id}); its outcome will be at GET /api/v1/work/${row.id} and in the machine's events`,
            ),
          );
        }
      }
    }
    for (const id of ids) {
      if (rows.some((r) => r.id === id)) continue;
      const waiter = this.#waiters.get(id);
      this.#waiters.delete(id);
      waiter?.reject(new AnvilError('WORK_GONE', 'internal', `work item ${id} for machine '${waiter.machine}' disappeared from the database`));
    }
  }

  // ---- the owner's side -------------------------------------------------------------------

  /**
   * From now on operations on machines this process does not own go to their owners, and it
   * claims the rows of the machines it owns, every pollMs until stop().
   */
  start(log: WorkLog): void {
    this.#log = log;
    this.#routing = true;
    this.#stopped = false;
    let failing = false;
    const schedule = () => {
      if (this.#stopped) return;
      this.#claimTimer = setTimeout(() => {
        this.#claiming = this.claim()
          .then(() => {
            if (failing) log.warn({}, 'claiming queued operations works again');
            failing = false;
          })
          .catch((error: unknown) => {
            // Once per outage, not every pollMs: the database away is reported by the store too.
            if (!failing) log.warn({ err: error }, `claiming queued operations failed (retrying every ${this.pollMs} ms): ${(error as Error).message}`);
            failing = true;
          })
          .finally(schedule);
      }, this.pollMs);
      this.#claimTimer.unref();
    };
    schedule();
  }

  /**
   * One claim pass: the queued rows of machines this conductor owns are locked (skipping rows
   * another conductor is claiming), marked running with its id, and run. The candidates are
   * read first and filtered by the ring, then locked by id: a plain `LIMIT n` over all queued
   * rows could fill up with other conductors' machines and starve this one's. Returns how
   * many rows it claimed.
   */
  async claim(): Promise<number> {
    const me = this.#conductors.id;
    const free = this.concurrency - this.#running.size;
    if (me === undefined || free <= 0) return 0;
    const queued = await this.#db.selectFrom('work_items').select(['id', 'machine_name']).where('state', '=', 'queued').orderBy('id').limit(1000).execute();
    const mine = queued.filter((r) => this.#conductors.owns(r.machine_name)).slice(0, free);
    if (mine.length === 0) return 0;
    const claimed = await this.#db.transaction().execute(async (trx) => {
      let select = trx
        .selectFrom('work_items')
        .selectAll()
        .where(
          'id',
          'in',
          mine.map((r) => r.id),
        )
        .where('state', '=', 'queued')
        .orderBy('id');
      if (this.#rowLocks) select = select.forUpdate().skipLocked();
      const rows = await select.execute();
      if (rows.length === 0) return rows;
      // Only the rows this update moved are run (RETURNING), whatever the select saw.
      return trx
        .updateTable('work_items')
        .set({ state: 'running', conductor: me, started_at: stamp(this.#clock) })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .where('state', '=', 'queued')
        .returningAll()
        .execute();
    });
    for (const row of claimed) {
      const run = this.#run(row, me).finally(() => this.#running.delete(run));
      this.#running.add(run);
    }
    return claimed.length;
  }

  async #run(row: WorkItem, me: string): Promise<void> {
    const handler = this.#handlers.get(row.kind);
    let outcome: { state: 'done'; result: string } | { state: 'failed'; error: AnvilError };
    try {
      if (!handler)
        throw new AnvilError('UNKNOWN_WORK', 'internal', `this anvil does not know work of kind '${row.kind}' (an older or newer version queued it)`);
      const value = await handler(row.machine_name, JSON.parse(row.args) as Record<string, unknown>, row.requested_by);
      outcome = { state: 'done', result: JSON.stringify(value ?? null) };
    } catch (error) {
      const e = error as Error & { code?: unknown; category?: unknown };
      outcome = {
        state: 'failed',
        error: error instanceof AnvilError ? error : new AnvilError(typeof e.code === 'string' ? e.code : 'INTERNAL', 'internal', e.message ?? String(error)),
      };
    }
    const values =
      outcome.state === 'done'
        ? { state: 'done', result: outcome.result }
        : { state: 'failed', error: outcome.error.message, error_code: outcome.error.code, error_category: outcome.error.category };
    const record = () =>
      this.#db
        .updateTable('work_items')
        .set({ ...values, finished_at: stamp(this.#clock) })
        .where('id', '=', row.id)
        .where('state', '=', 'running')
        .where('conductor', '=', me)
        .executeTakeFirst();
    // The operation ran: its outcome is kept and written once the database is back (an outage
    // must not leave the row "running" for good, its requester waiting for an answer that never comes).
    let recorded: Awaited<ReturnType<typeof record>> | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        recorded = await record();
        if (attempt > 0) this.#log?.warn({ work: row.id, machine: row.machine_name }, 'recorded the outcome of a queued operation once the database was back');
        break;
      } catch (error) {
        const retry = this.#away(error) !== undefined && !this.#stopped && attempt < RECORD_ATTEMPTS;
        if (attempt === 0 || !retry)
          this.#log?.error(
            { err: error, work: row.id, machine: row.machine_name },
            retry
              ? `could not record the outcome of a queued operation; retrying every ${this.pollMs} ms while the database is away`
              : 'could not record the outcome of a queued operation',
          );
        if (!retry) break;
        await new Promise((r) => setTimeout(r, this.pollMs));
      }
    }
    if (recorded && recorded.numUpdatedRows === 0n)
      this.#log?.warn(
        { work: row.id, machine: row.machine_name, kind: row.kind, outcome: outcome.state },
        'a queued operation finished after it was declared interrupted (this conductor missed its heartbeats); its outcome stays "interrupted"',
      );
  }

  /**
   * At each heartbeat: the running rows of conductors that stopped heartbeating become
   * interrupted, naming the dead one. They are not run again: they may have reached the
   * controller. Finished rows older than a day are removed. Returns the rows interrupted.
   */
  async interruptDead(): Promise<Array<{ id: number; machine: string; kind: string; conductor: string }>> {
    const running = await this.#db
      .selectFrom('work_items')
      .select(['id', 'machine_name', 'kind', 'conductor'])
      .where('state', '=', 'running')
      .where('conductor', 'is not', null)
      .execute();
    const dead = new Map<string, boolean>();
    const interrupted: Array<{ id: number; machine: string; kind: string; conductor: string }> = [];
    for (const row of running) {
      const conductor = row.conductor!;
      if (!dead.has(conductor)) dead.set(conductor, await this.#conductors.isDead(conductor));
      if (!dead.get(conductor)) continue;
      const result = await this.#db
        .updateTable('work_items')
        .set({
          state: 'interrupted',
          finished_at: stamp(this.#clock),
          error: `${row.kind} of machine '${row.machine_name}' was interrupted: conductor ${conductor} stopped heartbeating while running it, so it may or may not have reached the controller; it is not run again: look at the machine's state and ask again if needed`,
          error_code: 'WORK_INTERRUPTED',
          error_category: 'unavailable',
        })
        .where('id', '=', row.id)
        .where('state', '=', 'running')
        .executeTakeFirst();
      if (result.numUpdatedRows === 1n) interrupted.push({ id: row.id, machine: row.machine_name, kind: row.kind, conductor });
    }
    const forget = new Date(this.#clock().getTime() - WORK_DEFAULTS.forgetAfterMs).toISOString();
    await this.#db.deleteFrom('work_items').where('finished_at', '<', forget).execute();
    return interrupted;
  }

  /** Stops claiming and waits for the rows this conductor runs; requesters still waiting are told. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#routing = false;
    if (this.#claimTimer) clearTimeout(this.#claimTimer);
    await this.#claiming;
    await Promise.allSettled([...this.#running]);
    if (this.#waitTimer) clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    for (const [id, waiter] of this.#waiters) {
      waiter.reject(
        new AnvilError(
          'SHUTTING_DOWN',
          'unavailable',
          `anvil is stopping; ${waiter.kind} of machine '${waiter.machine}' is queued (work item ${id}) and its owner will still run it`,
        ),
      );
    }
    this.#waiters.clear();
  }
}
