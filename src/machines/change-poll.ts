// Changes another process made: `anvil machine power`, `pxemngr nextboot` and `nexttest` from
// the command line write the store directly, so the server's bus never hears them. While a
// page listens, the server looks for rows added since its last look (by primary key only, so
// a fleet with millions of boots costs three index lookups) and publishes them like its own.
// Its own changes come twice; the live feed reads a machine once per moment either way.
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

  start(intervalMs = DEFAULT_POLL_MS, onError: (error: unknown) => void = () => undefined): void {
    let running = false;
    this.#timer = setInterval(() => {
      if (running) return;
      running = true;
      this.tick()
        .catch(onError)
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
    for (const change of heard.values()) this.#changes.publish(change);
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
