// Changes another process made: `anvil machine power`, `pxemngr nextboot` and `nexttest` from
// the command line write the store directly, so the server's bus never hears them, and on
// PostgreSQL other `anvil serve` processes whose notifications were lost (change-relay.ts; the
// database was away). While a page listens, the server looks for rows added since its last look
// (by primary key only, so a fleet with millions of boots costs three index lookups) and
// delivers them like its own. Its own changes come twice; the live feed reads a machine once
// per moment either way.
//
// The bound: a machine event, boot-log entry or run committed while a page has been listening
// for at least one interval reaches it within one interval plus the look's queries (and the
// feed's gathering moment). Deploy progress has no such row; it travels by notification only.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { ChangeTopic, MachineChanges } from './changes.ts';

/** How often the server looks for other processes' changes while a live page is open. */
export const DEFAULT_POLL_MS = 2_000;
/** Rows read per table and look; more wait for the next one. */
export const POLL_BATCH = 1_000;

interface Cursor {
  events: number;
  boots: number;
  runs: number;
}

export class ChangePoll {
  readonly #db: Kysely<Database>;
  readonly #changes: MachineChanges;
  #cursor: Cursor | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(db: Kysely<Database>, changes: MachineChanges) {
    this.#db = db;
    this.#changes = changes;
  }

  start(intervalMs = DEFAULT_POLL_MS, onError: (error: unknown) => void = () => undefined, onSuccess: () => void = () => undefined): void {
    let running = false;
    this.#timer = setInterval(() => {
      if (running) return;
      running = true;
      this.tick()
        .then(onSuccess, onError)
        .finally(() => {
          running = false;
        });
    }, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One look. With nobody listening it only forgets where it was: what happened meanwhile is in the page a browser loads. */
  async tick(): Promise<void> {
    if (this.#changes.subscribers === 0) {
      this.#cursor = undefined;
      return;
    }
    const cursor = this.#cursor;
    if (!cursor) {
      this.#cursor = await this.#ends();
      return;
    }
    const [events, boots, runs] = await Promise.all([
      this.#db.selectFrom('machine_events').select(['id', 'machine_id', 'kind']).where('id', '>', cursor.events).orderBy('id').limit(POLL_BATCH).execute(),
      this.#db.selectFrom('boot_log').select(['id', 'machine_id', 'kind']).where('id', '>', cursor.boots).orderBy('id').limit(POLL_BATCH).execute(),
      this.#db.selectFrom('runs').select(['id', 'machine_id']).where('id', '>', cursor.runs).orderBy('id').limit(POLL_BATCH).execute(),
    ]);
    const heard = new Map<string, { machineId: number; topic: ChangeTopic }>();
    const add = (machineId: number, topic: ChangeTopic) => heard.set(`${machineId} ${topic}`, { machineId, topic });
    for (const e of events) add(e.machine_id, e.kind === 'power' || e.kind === 'provision' ? e.kind : 'machine');
    for (const b of boots) add(b.machine_id, b.kind === 'boot' ? 'boot' : 'next-boot');
    for (const r of runs) add(r.machine_id, 'run');
    this.#cursor = {
      events: events.at(-1)?.id ?? cursor.events,
      boots: boots.at(-1)?.id ?? cursor.boots,
      runs: runs.at(-1)?.id ?? cursor.runs,
    };
    for (const change of heard.values()) this.#changes.deliver(change);
  }

  async #ends(): Promise<Cursor> {
    const last = async (table: 'machine_events' | 'boot_log' | 'runs') =>
      Number(
        (
          await this.#db
            .selectFrom(table)
            .select((e) => e.fn.max('id').as('id'))
            .executeTakeFirst()
        )?.id ?? 0,
      );
    const [events, boots, runs] = await Promise.all([last('machine_events'), last('boot_log'), last('runs')]);
    return { events, boots, runs };
  }
}

/** ANVIL_CHANGE_POLL_INTERVAL: seconds between looks (default DEFAULT_POLL_MS); an invalid value is an error naming it. */
export function changePollFromEnv(env: NodeJS.ProcessEnv): number {
  const text = env.ANVIL_CHANGE_POLL_INTERVAL;
  if (text === undefined || text === '') return DEFAULT_POLL_MS;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`ANVIL_CHANGE_POLL_INTERVAL='${text}' must be a positive number of seconds`);
  return Math.round(n * 1000);
}
