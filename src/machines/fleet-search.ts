// One page of the fleet, found, filtered, sorted and counted in SQL, so a page of 10,000
// machines reads 100 rows and not the whole table. The last result (the latest finished run)
// and the last boot are read here only to filter and sort by them (the first joined from one
// grouped pass over the runs index, the second probed per machine in the boot_log index); what
// they say is shown by the parts that own them. One query
// for both SQLite and PostgreSQL: case-insensitive search with lower(), NULLs ordered by hand.
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Database } from '../store/schema.ts';
import { parseMac } from './mac.ts';

/** What the fleet can be sorted by; ties are always broken by name. */
export const FLEET_SORTS = ['name', 'power', 'provision', 'driver', 'next', 'version', 'boot', 'result'] as const;
export type FleetSort = (typeof FLEET_SORTS)[number];

/** A machine's last result in one word: its latest finished run's outcome, or none. */
export const RESULT_OUTCOMES = ['failed', 'errors', 'warnings', 'ok', 'none'] as const;
export type ResultOutcome = (typeof RESULT_OUTCOMES)[number];

/** Longest search text: a name is at most 63 characters, a MAC 17. */
export const SEARCH_MAX_CHARS = 64;

export interface FleetFilter {
  /** Part of a name or of a MAC (any case; a whole MAC in any notation matches that MAC). */
  readonly text?: string | undefined;
  /** Each list: any of these values; absent or empty: no condition. */
  readonly power?: readonly string[] | undefined;
  readonly provision?: readonly string[] | undefined;
  readonly driver?: readonly string[] | undefined;
  readonly result?: readonly ResultOutcome[] | undefined;
  /** Only these machines (e.g. the stale ones); an empty list matches none. */
  readonly ids?: readonly number[] | undefined;
}

export interface FleetQuery {
  readonly filter?: FleetFilter | undefined;
  readonly sort?: FleetSort | undefined;
  readonly descending?: boolean | undefined;
  readonly offset?: number | undefined;
  /** Rows of the page; 0 counts without reading any. */
  readonly limit: number;
}

/** The machines matching the filter: how many, and the ids of the page's rows in order. */
export interface FleetHits {
  readonly total: number;
  readonly ids: number[];
}

type Eb = ExpressionBuilder<Database, 'machines'>;

/** LIKE's wildcards taken literally: names may well contain '_'. */
const ESCAPE = '!';
function likeAnywhere(text: string): string {
  return `%${text.replace(/[!%_]/g, (c) => ESCAPE + c)}%`;
}

/** The latest finished run's outcome (`fr`, joined by withLatestRun), as outcome() in the pages says it. */
const outcomeOf = sql<string>`case when fr.id is null then 'none' when fr.state = 'error' then 'failed' when fr.errors > 0 then 'errors' when fr.warnings > 0 then 'warnings' else 'ok' end`;

/** Worst first when ascending. */
const outcomeRank = sql<number>`case when fr.id is null then 4 when fr.state = 'error' then 0 when fr.errors > 0 then 1 when fr.warnings > 0 then 2 else 3 end`;

/**
 * The last boot served, by its log id (ids grow with time); -1 for never, so those sort as the
 * oldest on both backends. A probe of the (machine_id, id) index per machine: on SQLite a
 * fifth of the time of a grouped join, on PostgreSQL about the same.
 */
const lastBootOf = sql<number>`coalesce((select max(b.id) from boot_log b where b.machine_id = machines.id and b.kind = 'boot'), -1)`;

type Query<O> = SelectQueryBuilder<Database, 'machines', O>;

/**
 * Each machine's latest finished run as `fr`: one grouped pass over the runs index joined by
 * hash, rather than a probe per machine (a quarter of the time on PostgreSQL at 10,000).
 */
function withLatestRun<O>(q: Query<O>): Query<O> {
  // The joined tables are only named in sql fragments: the builder's type stays that of machines.
  return q
    .leftJoin(
      (eb) =>
        eb
          .selectFrom('runs')
          .select(['runs.machine_id', (e) => e.fn.max('runs.id').as('run_id')])
          .where('runs.state', 'in', ['done', 'error'])
          .groupBy('runs.machine_id')
          .as('lr'),
      (join) => join.onRef('lr.machine_id', '=', 'machines.id'),
    )
    .leftJoin('runs as fr', 'fr.id', 'lr.run_id') as unknown as Query<O>;
}

function conditions(eb: Eb, filter: FleetFilter): Expression<SqlBool>[] {
  const and: Expression<SqlBool>[] = [];
  const text = filter.text?.trim().toLowerCase();
  if (text) {
    // A whole MAC is looked up by the macs table's key; part of one scans the macs once.
    const mac = parseMac(text);
    const byMac = eb
      .selectFrom('macs')
      .select('macs.machine_id')
      .where((m) => (mac ? m('macs.mac', '=', mac) : sql<SqlBool>`macs.mac like ${likeAnywhere(text.replaceAll('-', ':'))} escape ${sql.lit(ESCAPE)}`));
    and.push(eb.or([sql<SqlBool>`lower(machines.name) like ${likeAnywhere(text)} escape ${sql.lit(ESCAPE)}`, eb('machines.id', 'in', byMac)]));
  }
  if (filter.power?.length) and.push(eb('machines.power_state', 'in', [...filter.power]));
  if (filter.provision?.length) and.push(eb('machines.provision_state', 'in', [...filter.provision]));
  if (filter.driver?.length) and.push(eb('machines.driver', 'in', [...filter.driver]));
  if (filter.result?.length) and.push(eb(outcomeOf, 'in', [...filter.result]));
  if (filter.ids) and.push(eb('machines.id', 'in', [...filter.ids]));
  return and;
}

function sortKey(sort: FleetSort) {
  switch (sort) {
    case 'name':
      return sql`machines.name`;
    case 'power':
      return sql`machines.power_state`;
    case 'provision':
      return sql`machines.provision_state`;
    case 'driver':
      return sql`machines.driver`;
    case 'next':
      return sql`machines.next_profile`;
    case 'version':
      return sql`coalesce(machines.version, '')`;
    case 'boot':
      return lastBootOf;
    case 'result':
      return outcomeRank;
  }
}

/** How many machines match, and the ids of one page of them, sorted. */
export async function searchFleet(db: Kysely<Database>, query: FleetQuery): Promise<FleetHits> {
  const filter = query.filter ?? {};
  if (filter.ids && filter.ids.length === 0) return { total: 0, ids: [] };
  const where = (eb: Eb) => eb.and(conditions(eb, filter));
  const byResult = (filter.result?.length ?? 0) > 0;
  let count = db.selectFrom('machines').select((eb) => eb.fn.countAll<number>().as('n'));
  if (byResult) count = withLatestRun(count);
  const counted = await count.where(where).executeTakeFirstOrThrow();
  const total = Number(counted.n);
  if (query.limit <= 0 || total === 0) return { total, ids: [] };
  const sort = query.sort ?? 'name';
  const direction = query.descending ? 'desc' : 'asc';
  let rows = db.selectFrom('machines').select('machines.id');
  if (byResult || sort === 'result') rows = withLatestRun(rows);
  rows = rows.where(where);
  if (sort !== 'name') rows = rows.orderBy(sortKey(sort), direction);
  // Names are unique: the same order on both backends, page after page.
  rows = rows.orderBy('machines.name', sort === 'name' ? direction : 'asc');
  const page = await rows
    .limit(query.limit)
    .offset(query.offset ?? 0)
    .execute();
  return { total, ids: page.map((r) => r.id) };
}
