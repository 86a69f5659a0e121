// Results over time: finished runs per UTC day or hour (clean, with errors, failed) and the E:
// lines counted, as one grouped query; and the machines with the most E: lines since a time.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

export const RESULT_SPANS = {
  day: { buckets: 14, chars: 10, ms: 24 * 60 * 60 * 1000, label: 'day' },
  hour: { buckets: 48, chars: 13, ms: 60 * 60 * 1000, label: 'hour' },
} as const;
export type ResultSpan = keyof typeof RESULT_SPANS;

export interface Bucket {
  /** "2026-11-21" or "2026-11-21T05". */
  readonly key: string;
  readonly label: string;
  clean: number;
  withErrors: number;
  failed: number;
  errorLines: number;
}

/** Finished runs per bucket, oldest first, with empty buckets filled in. */
export async function resultsOverTime(db: Kysely<Database>, span: ResultSpan, now: Date): Promise<Bucket[]> {
  const { buckets, chars, ms } = RESULT_SPANS[span];
  const keys: string[] = [];
  for (let i = buckets - 1; i >= 0; i--) keys.push(new Date(now.getTime() - i * ms).toISOString().slice(0, chars));
  const from = keys[0]!;
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
    keys.map((key) => [
      key,
      {
        key,
        label: span === 'day' ? key : `${key.slice(0, 10)} ${key.slice(11, 13)}:00`,
        clean: 0,
        withErrors: 0,
        failed: 0,
        errorLines: 0,
      },
    ]),
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
