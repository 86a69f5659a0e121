// A machine's history in one list: boot-log entries (boots served, next boot set), test runs and
// its events (power, provision, locks, …), newest first. The merge and the page are one UNION
// query on (when, source, id), so a page costs the same at any depth and on both backends; the
// rows of the page are then read back by id, at most a page of each.
import { sql, type Kysely } from 'kysely';
import type { BootLogEntry, Database, MachineEvent, Run } from '../store/schema.ts';

/** Entries on one page unless the caller says; and never more than TIMELINE_MAX_PAGE. */
export const TIMELINE_PAGE = 50;
export const TIMELINE_MAX_PAGE = 500;

export type TimelineEntry =
  | { readonly source: 'boot'; readonly at: string; readonly boot: BootLogEntry }
  | { readonly source: 'run'; readonly at: string; readonly run: Run }
  | { readonly source: 'event'; readonly at: string; readonly event: MachineEvent };

export interface TimelinePage {
  readonly entries: TimelineEntry[];
  /** Entries in the whole timeline, for "51–100 of 730". */
  readonly total: number;
}

/**
 * One page of a machine's timeline, newest first. A run stands at its latest moment (finished,
 * else sent, else requested), so a run that just ended is at the top. Ties in time go by source
 * then id, both descending, so pages never overlap or skip.
 */
export async function timelinePage(db: Kysely<Database>, machineId: number, limit = TIMELINE_PAGE, offset = 0): Promise<TimelinePage> {
  const take = Math.min(Math.max(1, Math.floor(limit)), TIMELINE_MAX_PAGE);
  const skip = Math.max(0, Math.floor(offset));
  const merged = db
    .selectFrom('boot_log')
    .select([sql<string>`'boot'`.as('source'), 'id', 'at'])
    .where('machine_id', '=', machineId)
    .unionAll(
      db
        .selectFrom('runs')
        .select([sql<string>`'run'`.as('source'), 'id', sql<string>`coalesce(finished_at, sent_at, requested_at)`.as('at')])
        .where('machine_id', '=', machineId),
    )
    .unionAll(
      db
        .selectFrom('machine_events')
        .select([sql<string>`'event'`.as('source'), 'id', 'at'])
        .where('machine_id', '=', machineId),
    );
  const [rows, counts] = await Promise.all([
    db
      .selectFrom(merged.as('t'))
      .select(['t.source', 't.id', 't.at'])
      .orderBy('t.at', 'desc')
      .orderBy('t.source', 'desc')
      .orderBy('t.id', 'desc')
      .limit(take)
      .offset(skip)
      .execute(),
    Promise.all([
      db
        .selectFrom('boot_log')
        .select((e) => e.fn.countAll<number | string>().as('n'))
        .where('machine_id', '=', machineId)
        .executeTakeFirstOrThrow(),
      db
        .selectFrom('runs')
        .select((e) => e.fn.countAll<number | string>().as('n'))
        .where('machine_id', '=', machineId)
        .executeTakeFirstOrThrow(),
      db
        .selectFrom('machine_events')
        .select((e) => e.fn.countAll<number | string>().as('n'))
        .where('machine_id', '=', machineId)
        .executeTakeFirstOrThrow(),
    ]),
  ]);
  const ids = (source: string) => rows.filter((r) => r.source === source).map((r) => Number(r.id));
  const [bootIds, runIds, eventIds] = [ids('boot'), ids('run'), ids('event')];
  const [boots, runs, events] = await Promise.all([
    bootIds.length ? db.selectFrom('boot_log').selectAll().where('id', 'in', bootIds).execute() : [],
    runIds.length ? db.selectFrom('runs').selectAll().where('id', 'in', runIds).execute() : [],
    eventIds.length ? db.selectFrom('machine_events').selectAll().where('id', 'in', eventIds).execute() : [],
  ]);
  const bootById = new Map(boots.map((b) => [b.id, b]));
  const runById = new Map(runs.map((r) => [r.id, r]));
  const eventById = new Map(events.map((e) => [e.id, e]));
  const entries: TimelineEntry[] = [];
  for (const r of rows) {
    const id = Number(r.id);
    // A row deleted between the two reads is left out rather than shown half.
    if (r.source === 'boot') {
      const boot = bootById.get(id);
      if (boot) entries.push({ source: 'boot', at: r.at, boot });
    } else if (r.source === 'run') {
      const run = runById.get(id);
      if (run) entries.push({ source: 'run', at: r.at, run });
    } else {
      const event = eventById.get(id);
      if (event) entries.push({ source: 'event', at: r.at, event });
    }
  }
  return { entries, total: counts.reduce((n, c) => n + Number(c.n), 0) };
}
