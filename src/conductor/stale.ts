// What is stuck, so an operator sees it before a timeout fails it (or when nothing would): a
// test run requested or sent far beyond the usual time for its test, a machine that was served a
// network boot and was not heard of since, a deploy or capture whose agent stopped reporting.
// Read from the database at each look (the fleet page, a machine page, /metrics), so a CLI in
// another process and the server agree.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Clock } from '../store/store.ts';

export const STALE_DEFAULTS = {
  /** A run is overdue after this many times its test's usual duration (median of recent runs)… */
  runFactor: 3,
  /** …and never before this (a test with no history, or one that usually takes seconds). */
  runFloorMs: 30 * 60_000,
  /** Finished runs per test the usual duration is taken from. */
  runHistory: 50,
  /** A machine served a boot (not local) and silent this long is stale. */
  bootSilenceMs: 30 * 60_000,
  /** A deploy or capture whose agent has not reported for this long (the stall timeout fails it later). */
  deployQuietMs: 2 * 60_000,
} as const;

export type StaleOptions = { -readonly [K in keyof typeof STALE_DEFAULTS]?: number };

export type StaleKind = 'run-overdue' | 'boot-silent' | 'deploy-quiet';
export const STALE_KINDS: readonly StaleKind[] = ['run-overdue', 'boot-silent', 'deploy-quiet'];

export interface StaleFinding {
  readonly machineId: number;
  readonly kind: StaleKind;
  /** Since when (ISO-8601): the request, the boot or the last report. */
  readonly since: string;
  /** One sentence for the pages: what is stuck and for how long. */
  readonly message: string;
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)]!;
}

export class StaleWatch {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #o: Required<StaleOptions>;

  constructor(db: Kysely<Database>, clock: Clock, options: StaleOptions = {}) {
    this.#db = db;
    this.#clock = clock;
    this.#o = { ...STALE_DEFAULTS, ...options };
  }

  /** Every finding, or one machine's; by machine id. */
  async find(onlyId?: number): Promise<Map<number, StaleFinding[]>> {
    const now = this.#clock().getTime();
    const found = [...(await this.#runs(now, onlyId)), ...(await this.#boots(now, onlyId)), ...(await this.#deploys(now, onlyId))];
    const byMachine = new Map<number, StaleFinding[]>();
    for (const f of found) {
      const list = byMachine.get(f.machineId);
      if (list) list.push(f);
      else byMachine.set(f.machineId, [f]);
    }
    return byMachine;
  }

  /** Each test's usual duration, requested to finished, in ms: the median of its recent runs. */
  async usualDurations(): Promise<Map<string, number>> {
    const rows = await this.#db
      .selectFrom('runs')
      .select(['test', 'requested_at', 'finished_at'])
      .where('state', '=', 'done')
      .orderBy('id', 'desc')
      .limit(this.#o.runHistory * 40)
      .execute();
    const byTest = new Map<string, number[]>();
    for (const r of rows) {
      if (!r.finished_at) continue;
      const list = byTest.get(r.test) ?? [];
      if (list.length < this.#o.runHistory) list.push(Date.parse(r.finished_at) - Date.parse(r.requested_at));
      byTest.set(r.test, list);
    }
    return new Map([...byTest].map(([test, d]) => [test, median(d)]));
  }

  async #runs(now: number, onlyId: number | undefined): Promise<StaleFinding[]> {
    let q = this.#db.selectFrom('runs').select(['id', 'machine_id', 'test', 'state', 'requested_at']).where('state', 'in', ['requested', 'sent']);
    if (onlyId !== undefined) q = q.where('machine_id', '=', onlyId);
    const open = await q.orderBy('id').execute();
    if (open.length === 0) return [];
    const usual = await this.usualDurations();
    const out: StaleFinding[] = [];
    const seen = new Set<number>();
    for (const r of open) {
      // The oldest open run of a machine says it; the ones queued behind it wait on it.
      if (seen.has(r.machine_id)) continue;
      const limit = Math.max(this.#o.runFloorMs, this.#o.runFactor * (usual.get(r.test) ?? 0));
      const age = now - Date.parse(r.requested_at);
      if (age <= limit) continue;
      seen.add(r.machine_id);
      const usually = usual.has(r.test) ? `usually ${minutes(usual.get(r.test)!)}` : 'no finished run of it yet';
      out.push({
        machineId: r.machine_id,
        kind: 'run-overdue',
        since: r.requested_at,
        message: `run ${r.id} (${r.test}) ${r.state} for ${minutes(age)}, ${usually}`,
      });
    }
    return out;
  }

  async #boots(now: number, onlyId: number | undefined): Promise<StaleFinding[]> {
    // The machine's last boot-log entry is a network boot (not local) and nothing came after it.
    // Per machine one probe of the (machine_id, id) index and one of the log's key, not a
    // grouping of the whole log: it grows with every boot (at 20 a machine that was 100 ms of
    // each fleet page on PostgreSQL).
    const cutoff = new Date(now - this.#o.bootSilenceMs).toISOString();
    let latest = this.#db
      .selectFrom('machines')
      .innerJoin('boot_log as b', (join) =>
        join.on((eb) =>
          eb(
            'b.id',
            '=',
            eb
              .selectFrom('boot_log as l')
              .select((e) => e.fn.max('l.id').as('last'))
              .whereRef('l.machine_id', '=', 'machines.id'),
          ),
        ),
      )
      .select(['b.machine_id', 'b.at', 'b.profile'])
      .where('b.kind', '=', 'boot')
      .where('b.profile', '!=', 'local')
      .where('b.at', '<', cutoff);
    if (onlyId !== undefined) latest = latest.where('machines.id', '=', onlyId);
    const rows = await latest.execute();
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.machine_id);
    const [runs, deploys] = await Promise.all([
      this.#db
        .selectFrom('runs')
        .select(['machine_id', (e) => e.fn.max('sent_at').as('sent'), (e) => e.fn.max('finished_at').as('finished')])
        .where('machine_id', 'in', ids)
        .groupBy('machine_id')
        .execute(),
      this.#db
        .selectFrom('deployments')
        .select(['machine_id', (e) => e.fn.max('updated_at').as('at')])
        .where('machine_id', 'in', ids)
        .groupBy('machine_id')
        .execute(),
    ]);
    const heard = new Map<number, string>();
    const hear = (id: number, at: string | null | undefined) => {
      if (at && at > (heard.get(id) ?? '')) heard.set(id, at);
    };
    for (const r of runs) hear(r.machine_id, r.sent as string | null), hear(r.machine_id, r.finished as string | null);
    for (const d of deploys) hear(d.machine_id, d.at as string | null);
    return rows
      .filter((r) => (heard.get(r.machine_id) ?? '') <= r.at)
      .map((r) => ({
        machineId: r.machine_id,
        kind: 'boot-silent' as const,
        since: r.at,
        message: `booted ${r.profile} ${minutes(now - Date.parse(r.at))} ago and not heard of since`,
      }));
  }

  async #deploys(now: number, onlyId: number | undefined): Promise<StaleFinding[]> {
    let q = this.#db.selectFrom('deployments').select(['machine_id', 'kind', 'state', 'created_at', 'progress_at']).where('finished_at', 'is', null);
    if (onlyId !== undefined) q = q.where('machine_id', '=', onlyId);
    const out: StaleFinding[] = [];
    for (const d of await q.execute()) {
      const since = d.progress_at ?? d.created_at;
      const quiet = now - Date.parse(since);
      if (quiet <= this.#o.deployQuietMs) continue;
      const what = d.progress_at ? 'no progress reported' : 'the agent has not called';
      out.push({ machineId: d.machine_id, kind: 'deploy-quiet', since, message: `${d.kind} ${d.state}: ${what} for ${minutes(quiet)}` });
    }
    return out;
  }
}
