// Results over time: finished runs per UTC minute, hour, day or month (clean, with errors,
// failed) and the E: lines counted, as one grouped query, in a window chosen from the data's own
// span; and the machines with the most E: lines since a time.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

/** The bucket sizes, smallest first; each shows at most `max` buckets. */
export const RESULT_SPANS = {
  minute: { chars: 16, ms: 60_000, label: 'minute', max: 120 },
  hour: { chars: 13, ms: 60 * 60_000, label: 'hour', max: 72 },
  day: { chars: 10, ms: 24 * 60 * 60_000, label: 'day', max: 92 },
  month: { chars: 7, ms: 0, label: 'month', max: 120 },
} as const;
export type ResultSpan = keyof typeof RESULT_SPANS;
export const RESULT_SPAN_NAMES = Object.keys(RESULT_SPANS) as ResultSpan[];
/** Fewer buckets than this and the chart would be one or two fat bars with no time around them. */
export const MIN_RESULT_BUCKETS = 6;
/** The window shown before any run has finished. */
const EMPTY_SPAN: ResultSpan = 'day';

export interface ResultWindow {
  readonly span: ResultSpan;
  /** The buckets' keys, oldest first, the last one holding `now`. */
  readonly keys: readonly string[];
  /** Whether the first finished run is inside the window (else older ones are cut off). */
  readonly all: boolean;
}

/** The start of the bucket that holds `t`, and of the one after it (UTC). */
function bucketStart(span: ResultSpan, t: number): number {
  if (span !== 'month') return Math.floor(t / RESULT_SPANS[span].ms) * RESULT_SPANS[span].ms;
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}
function step(span: ResultSpan, start: number, by: number): number {
  if (span !== 'month') return start + by * RESULT_SPANS[span].ms;
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + by, 1);
}
const keyOf = (span: ResultSpan, t: number) => new Date(t).toISOString().slice(0, RESULT_SPANS[span].chars);

/**
 * The window results are drawn in, from the data's own span: the smallest bucket size whose
 * buckets from the first finished run to now fit in its maximum (a lab that started an hour ago
 * gets minutes, one that ran for years months), at least MIN_RESULT_BUCKETS of them, ending now.
 * A span the viewer chose is kept, its window cut at that span's maximum.
 */
export function resultWindow(firstFinished: string | undefined, now: Date, chosen?: ResultSpan): ResultWindow {
  const end = now.getTime();
  const first = firstFinished === undefined ? undefined : Math.min(Date.parse(firstFinished), end);
  const needed = (span: ResultSpan) => {
    if (first === undefined) return 1;
    let n = 1;
    for (let t = bucketStart(span, end); t > bucketStart(span, first) && n <= RESULT_SPANS[span].max; t = step(span, t, -1)) n++;
    return n;
  };
  const span = chosen ?? (first === undefined ? EMPTY_SPAN : (RESULT_SPAN_NAMES.find((s) => needed(s) <= RESULT_SPANS[s].max) ?? 'month'));
  const wanted = needed(span);
  const count = Math.min(RESULT_SPANS[span].max, Math.max(MIN_RESULT_BUCKETS, wanted));
  const last = bucketStart(span, end);
  const keys: string[] = [];
  for (let i = count - 1; i >= 0; i--) keys.push(keyOf(span, step(span, last, -i)));
  return { span, keys, all: wanted <= RESULT_SPANS[span].max };
}

export interface Bucket {
  /** "2026-11", "2026-11-21", "2026-11-21T05" or "2026-11-21T05:07". */
  readonly key: string;
  readonly label: string;
  /** What the chart's axis says under it. */
  readonly tick: string;
  clean: number;
  withErrors: number;
  failed: number;
  errorLines: number;
}

function labels(span: ResultSpan, key: string): { label: string; tick: string } {
  if (span === 'month' || span === 'day') return { label: key, tick: span === 'day' ? key.slice(5) : key };
  const hhmm = span === 'hour' ? `${key.slice(11, 13)}:00` : key.slice(11, 16);
  return { label: `${key.slice(0, 10)} ${hhmm}`, tick: span === 'hour' ? `${key.slice(5, 10)} ${hhmm}` : hhmm };
}

/** When the first run ever finished (done or failed), to choose a window from; undefined before any did. */
export async function firstFinished(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db
    .selectFrom('runs')
    .select((e) => e.fn.min('finished_at').as('first'))
    .where('state', 'in', ['done', 'error'])
    .executeTakeFirst();
  return (row?.first as string | null | undefined) ?? undefined;
}

/** Finished runs per bucket of the window, oldest first, with empty buckets filled in. */
export async function resultsOverTime(db: Kysely<Database>, window: ResultWindow): Promise<Bucket[]> {
  const { chars } = RESULT_SPANS[window.span];
  const from = window.keys[0]!;
  const bucket = sql<string>`substr(finished_at, 1, ${sql.lit(chars)})`;
  const rows = await db
    .selectFrom('runs')
    .select([
      bucket.as('bucket'),
      'state',
      sql<number>`count(*)`.as('runs'),
      sql<number>`sum(case when errors > 0 then 1 else 0 end)`.as('with_errors'),
      sql<number>`sum(errors)`.as('error_lines'),
    ])
    .where('state', 'in', ['done', 'error'])
    .where('finished_at', '>=', from)
    .groupBy([bucket, 'state'])
    .execute();
  const byKey = new Map<string, Bucket>(
    window.keys.map((key) => [key, { key, ...labels(window.span, key), clean: 0, withErrors: 0, failed: 0, errorLines: 0 }]),
  );
  for (const row of rows) {
    const b = byKey.get(row.bucket);
    if (!b) continue;
    if (row.state === 'error') b.failed += Number(row.runs);
    else {
      b.withErrors += Number(row.with_errors);
      b.clean += Number(row.runs) - Number(row.with_errors);
    }
    b.errorLines += Number(row.error_lines ?? 0);
  }
  return [...byKey.values()];
}

export interface WorstMachine {
  readonly machine: string;
  readonly errors: number;
  readonly runs: number;
}

/** The machines whose finished runs since `from` had the most E: lines, most first. */
export async function worstMachines(db: Kysely<Database>, from: string, limit = 10): Promise<WorstMachine[]> {
  const rows = await db
    .selectFrom('runs')
    .innerJoin('machines', 'machines.id', 'runs.machine_id')
    .select(['machines.name as machine', sql<number>`sum(runs.errors)`.as('errors'), sql<number>`count(*)`.as('runs')])
    .where('runs.state', '=', 'done')
    .where('runs.errors', '>', 0)
    .where('runs.finished_at', '>=', from)
    .groupBy('machines.name')
    .orderBy(sql`sum(runs.errors)`, 'desc')
    // Ties in name order: without it SQLite and PostgreSQL each pick their own, and a limit cuts differently.
    .orderBy('machines.name')
    .limit(limit)
    .execute();
  return rows.map((w) => ({ machine: w.machine, errors: Number(w.errors), runs: Number(w.runs) }));
}
