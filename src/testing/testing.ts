// Test scripts and test runs: pxemngr's tester. A run moves requested → sent → done | error;
// a run sent and not uploaded in time becomes error (the watchdog). `wait.test` is handed out
// when nothing is queued.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database, Machine, Run, RunLine, RunState } from '../store/schema.ts';
import type { Dialect } from '../store/migrations/helpers.ts';
import { AnvilError, invalid, listWords, notFound } from '../common/errors.ts';
import { sweepTempFiles, type Leftover } from '../common/leftovers.ts';
import { readTemplate, scanTemplates, type ScanProblem } from '../common/template-dir.ts';
import { availableNames, syncNames, type SyncReport } from '../store/names.ts';
import { renderTemplate, TemplateRecord } from '../common/templates.ts';
import { stamp, type Clock } from '../store/store.ts';
import { durably, syncFile } from '../store/durable.ts';
import { MachineChanges } from '../machines/changes.ts';
import { parseFile } from './result-parser.ts';
import {
  firstFinished,
  resultWindow,
  resultsOverTime,
  worstMachines,
  type Bucket,
  type ResultSpan,
  type ResultWindow,
  type WorstMachine,
} from './results-over-time.ts';

export type { Run, RunLine } from '../store/schema.ts';
export { RESULT_SPANS, RESULT_SPAN_NAMES, resultWindow, type Bucket, type ResultSpan, type ResultWindow, type WorstMachine } from './results-over-time.ts';

/** A machine's latest finished run, as the fleet shows it. */
export type LatestResult = Pick<Run, 'id' | 'test' | 'state' | 'infos' | 'warnings' | 'errors' | 'finished_at'>;

export const TEST_EXTENSION = '.test';
export const WAIT_TEST = 'wait';
/** Finished runs a test's trend shows at most (the machine page). */
export const TREND_RUNS = 500;

/** One point of a test's trend. */
export interface TrendRun {
  readonly id: number;
  readonly state: RunState;
  readonly finished_at: string;
  readonly infos: number;
  readonly warnings: number;
  readonly errors: number;
  readonly version: string | null;
}

/** A machine and the versions it reported, first seen first. */
export interface MachineVersions {
  readonly machine: string;
  readonly versions: Array<{ version: string; first_seen: string; last_seen: string }>;
}
/** An upload being received: `.incoming-<pid>-<random>` in the uploads folder, renamed to <run>.log when whole. */
export const UPLOAD_INCOMING_PREFIX = '.incoming-';
/** A run sent and not uploaded within this time becomes error. */
export const DEFAULT_RUN_TIMEOUT_MS = 6 * 60 * 60 * 1000;

export interface TestSyncReport extends SyncReport {
  readonly problems: ScanProblem[];
}

export interface ScriptVariables {
  readonly server: string;
  readonly mac: string | undefined;
}

export interface NextScript {
  /** The run handed out, or undefined when wait.test was sent. */
  readonly run: Run | undefined;
  readonly testname: string;
  readonly script: string;
}

export interface RunDetail extends Run {
  readonly machine: string;
}

export class Testing {
  readonly #db: Kysely<Database>;
  readonly #dialect: Dialect;
  readonly #clock: Clock;
  readonly dir: string;
  readonly uploadsDir: string;
  readonly #changes: MachineChanges;

  constructor(db: Kysely<Database>, dialect: Dialect, dir: string, uploadsDir: string, clock: Clock, changes = new MachineChanges()) {
    this.#changes = changes;
    this.#db = db;
    this.#dialect = dialect;
    this.dir = dir;
    this.uploadsDir = uploadsDir;
    this.#clock = clock;
  }

  /** pxemngr synctestnames. */
  async sync(): Promise<TestSyncReport> {
    const { names, problems } = await scanTemplates(this.dir, TEST_EXTENSION);
    if (!names.includes(WAIT_TEST)) {
      const problem = problems.find((p) => p.file.endsWith(`/${WAIT_TEST}${TEST_EXTENSION}`));
      throw new AnvilError(
        'WAIT_TEST_MISSING',
        'invalid',
        problem
          ? `wait.test does not parse${problem.line ? ` (line ${problem.line})` : ''}: ${problem.message}`
          : `${join(this.dir, 'wait.test')} is missing: it is mandatory (it is sent when no test is queued; it should sleep a while and exit); create it and run synctestnames again`,
      );
    }
    return { ...(await syncNames(this.#db, 'tests', names, stamp(this.#clock))), problems };
  }

  available(): Promise<string[]> {
    return availableNames(this.#db, 'tests');
  }

  /** pxemngr nexttest: queues tests for a machine, in order. */
  async queue(machine: Machine, tests: readonly string[]): Promise<Run[]> {
    if (tests.length === 0) throw invalid('TEST_REQUIRED', `name at least one test to queue for '${machine.name}'`);
    const known = await this.available();
    const unknown = tests.filter((t) => !known.includes(t) || t === WAIT_TEST);
    if (unknown.length > 0) {
      throw new AnvilError(
        'UNKNOWN_TEST',
        'not-found',
        `unknown test${unknown.length > 1 ? 's' : ''} ${listWords(unknown.map((t) => `'${t}'`))}; known tests: ${listWords(known.filter((t) => t !== WAIT_TEST))}${known.length === 0 ? ' (run synctestnames first)' : ''}`,
      );
    }
    const now = stamp(this.#clock);
    const queued = await durably(this.#db, async (trx) => {
      const runs: Run[] = [];
      for (const test of tests) {
        runs.push(
          await trx
            .insertInto('runs')
            .values({
              machine_id: machine.id,
              test,
              state: 'requested',
              requested_at: now,
              sent_at: null,
              finished_at: null,
              version: null,
              upload_path: null,
              upload_bytes: null,
              error_reason: null,
            })
            .returningAll()
            .executeTakeFirstOrThrow(),
        );
      }
      return runs;
    });
    this.#ran(machine.id);
    return queued;
  }

  #ran(machineId: number): void {
    this.#changes.publish({ machineId, topic: 'run' });
  }

  /**
   * Takes the machine's oldest requested run and marks it sent, in one statement, so two
   * concurrent callers never get the same run.
   */
  async claimNext(machine: Machine): Promise<Run | undefined> {
    const now = stamp(this.#clock);
    // Durable: a run handed out and then forgotten by a power loss would be handed out again.
    const claimed = await durably(this.#db, (trx) =>
      trx
        .updateTable('runs')
        .set({ state: 'sent', sent_at: now })
        .where('id', '=', (eb) => {
          const oldest = eb.selectFrom('runs').select('id').where('machine_id', '=', machine.id).where('state', '=', 'requested').orderBy('id').limit(1);
          return this.#dialect === 'postgres' ? oldest.forUpdate().skipLocked() : oldest;
        })
        .where('state', '=', 'requested')
        .returningAll()
        .executeTakeFirst(),
    );
    if (claimed) this.#ran(claimed.machine_id);
    return claimed;
  }

  /** /nexttest/: the next test script rendered for the machine, or wait.test. */
  async nextScript(machine: Machine, vars: ScriptVariables): Promise<NextScript> {
    const run = await this.claimNext(machine);
    const testname = run?.test ?? WAIT_TEST;
    try {
      const source = await readTemplate(this.dir, testname, TEST_EXTENSION, () => this.available(), 'test');
      // pxemngr's variables: system and testname by name, log the TestLog (printed as its id).
      const log = run
        ? new TemplateRecord(run.id, {
            id: run.id,
            status: 'S',
            test_name: run.test,
            system: machine.name,
            date: run.sent_at,
            infos: 0,
            warnings: 0,
            errors: 0,
            version: machine.version,
          })
        : '';
      const script = await renderTemplate(
        source,
        { system: machine.name, testname, log, mac: vars.mac ?? '', server: vars.server },
        `${testname}${TEST_EXTENSION}`,
      );
      return { run, testname, script };
    } catch (error) {
      // The run was handed out but its script can't be made: record why instead of losing it.
      if (run) await this.#fail(run.id, (error as Error).message);
      throw error;
    }
  }

  async #fail(runId: number, reason: string): Promise<void> {
    const failed = await this.#db
      .updateTable('runs')
      .set({ state: 'error', error_reason: reason, finished_at: stamp(this.#clock) })
      .where('id', '=', runId)
      .returning('machine_id')
      .executeTakeFirst();
    if (failed) this.#ran(failed.machine_id);
  }

  /** The run an upload without a run id belongs to: the machine's most recently sent one. */
  async latestSent(machine: Machine): Promise<Run> {
    const run = await this.#db
      .selectFrom('runs')
      .selectAll()
      .where('machine_id', '=', machine.id)
      .where('state', '=', 'sent')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!run) throw notFound('NO_RUN_SENT', `machine '${machine.name}' has no test run waiting for a result; upload to /upload/<run-id>/ to name the run`);
    return run;
  }

  async get(runId: number): Promise<RunDetail> {
    const run = await this.#db
      .selectFrom('runs')
      .innerJoin('machines', 'machines.id', 'runs.machine_id')
      .selectAll('runs')
      .select('machines.name as machine')
      .where('runs.id', '=', runId)
      .executeTakeFirst();
    if (!run) throw notFound('UNKNOWN_RUN', `no test run ${runId}`);
    return run;
  }

  /** A temporary path in the uploads folder for an upload being received. */
  async uploadTempPath(): Promise<string> {
    await mkdir(this.uploadsDir, { recursive: true });
    return join(this.uploadsDir, `${UPLOAD_INCOMING_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  /**
   * Removes uploads a crash left half-received (.incoming-<pid>-… of a process that is gone;
   * older servers wrote .incoming-<hex>, with no pid, which count as gone too).
   */
  sweepUploads(): Promise<Leftover[]> {
    return sweepTempFiles(this.uploadsDir, (name) =>
      name.startsWith(UPLOAD_INCOMING_PREFIX) ? Number(name.slice(UPLOAD_INCOMING_PREFIX.length).split('-')[0]) : undefined,
    );
  }

  uploadPath(runId: number): string {
    return join(this.uploadsDir, `${runId}.log`);
  }

  /**
   * Files a received upload (already complete at `tempPath`) as the result of a run: parses it,
   * stores the lines, moves it to uploads/<id>.log and marks the run done. A run that was not
   * sent, or already has a result, is refused and the temporary file removed.
   */
  async fileUpload(runId: number, tempPath: string, bytes: number): Promise<RunDetail> {
    try {
      const run = await this.get(runId);
      if (run.state === 'requested')
        throw new AnvilError('RUN_NOT_SENT', 'conflict', `test run ${runId} (${run.test} on ${run.machine}) has not been sent yet; nothing to upload`);
      if (run.state === 'done') throw new AnvilError('RUN_DONE', 'conflict', `test run ${runId} (${run.test} on ${run.machine}) already has a result`);
      const parsed = await parseFile(tempPath);
      const now = stamp(this.#clock);
      const final = this.uploadPath(runId);
      await durably(this.#db, async (trx) => {
        const claimed = await trx
          .updateTable('runs')
          .set({
            state: 'done',
            finished_at: now,
            infos: parsed.infos,
            warnings: parsed.warnings,
            errors: parsed.errors,
            version: parsed.version ?? null,
            upload_path: `${runId}.log`,
            upload_bytes: bytes,
            error_reason: null,
          })
          .where('id', '=', runId)
          .where('state', 'in', ['sent', 'error'])
          .returning('id')
          .executeTakeFirst();
        if (!claimed) throw new AnvilError('RUN_DONE', 'conflict', `test run ${runId} already has a result`);
        for (let i = 0; i < parsed.lines.length; i += 200) {
          await trx
            .insertInto('run_lines')
            .values(parsed.lines.slice(i, i + 200).map((l) => ({ run_id: runId, line_no: l.lineNo, kind: l.kind, text: l.text })))
            .execute();
        }
        if (parsed.version !== undefined) {
          await trx.updateTable('machines').set({ version: parsed.version, updated_at: now }).where('id', '=', run.machine_id).execute();
          const seen = await trx
            .updateTable('system_versions')
            .set({ last_seen: now })
            .where('machine_id', '=', run.machine_id)
            .where('version', '=', parsed.version)
            .executeTakeFirst();
          if (seen.numUpdatedRows === 0n)
            await trx.insertInto('system_versions').values({ machine_id: run.machine_id, version: parsed.version, first_seen: now, last_seen: now }).execute();
        }
        // Renaming last: if anything above fails, the transaction rolls back and no file is left claiming a result.
        // The file and its name are on disk before the row that names them commits.
        await rename(tempPath, final);
        await syncFile(final);
      });
      this.#ran(run.machine_id);
      return await this.get(runId);
    } finally {
      await rm(tempPath, { force: true });
    }
  }

  /** The watchdog: runs sent longer ago than `timeoutMs` without a result become error. */
  async expire(timeoutMs: number): Promise<number> {
    const now = this.#clock();
    const cutoff = new Date(now.getTime() - timeoutMs).toISOString();
    const expired = await this.#db
      .updateTable('runs')
      .set({ state: 'error', finished_at: now.toISOString(), error_reason: `no result uploaded within ${Math.round(timeoutMs / 1000)} s of being sent` })
      .where('state', '=', 'sent')
      .where('sent_at', '<', cutoff)
      .returning('machine_id')
      .execute();
    for (const machineId of new Set(expired.map((r) => r.machine_id))) this.#ran(machineId);
    return expired.length;
  }

  /** pxemngr dpytest: a machine's runs, newest first. */
  async runsOf(machineId: number, limit = 200, offset = 0): Promise<Run[]> {
    return this.#db.selectFrom('runs').selectAll().where('machine_id', '=', machineId).orderBy('id', 'desc').limit(limit).offset(offset).execute();
  }

  /** How many runs a machine has had (the machine page's "51–100 of 730"). */
  async runCount(machineId: number): Promise<number> {
    const row = await this.#db
      .selectFrom('runs')
      .select((e) => e.fn.countAll<number | string>().as('n'))
      .where('machine_id', '=', machineId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** The tests a machine has finished runs of, most runs first: what its trend can show. */
  async testsRunOn(machineId: number): Promise<Array<{ test: string; runs: number }>> {
    const rows = await this.#db
      .selectFrom('runs')
      .select(['test', (e) => e.fn.countAll<number | string>().as('n')])
      .where('machine_id', '=', machineId)
      .where('state', 'in', ['done', 'error'])
      .groupBy('test')
      .orderBy((e) => e.fn.countAll(), 'desc')
      .orderBy('test')
      .execute();
    return rows.map((r) => ({ test: r.test, runs: Number(r.n) }));
  }

  /** A test's last `limit` finished runs on a machine, oldest first: its trend. */
  async trendOf(machineId: number, test: string, limit = TREND_RUNS): Promise<TrendRun[]> {
    const rows = await this.#db
      .selectFrom('runs')
      .select(['id', 'state', 'finished_at', 'infos', 'warnings', 'errors', 'version'])
      .where('machine_id', '=', machineId)
      .where('test', '=', test)
      .where('state', 'in', ['done', 'error'])
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((r) => ({ ...r, finished_at: r.finished_at ?? '' }));
  }

  async lines(runId: number): Promise<RunLine[]> {
    return this.#db.selectFrom('run_lines').selectAll().where('run_id', '=', runId).orderBy('id').execute();
  }

  /** Every version seen, per machine (the versions page). */
  async versions(): Promise<Array<{ machine: string; version: string; first_seen: string; last_seen: string }>> {
    return this.#db
      .selectFrom('system_versions')
      .innerJoin('machines', 'machines.id', 'system_versions.machine_id')
      .select(['machines.name as machine', 'system_versions.version', 'system_versions.first_seen', 'system_versions.last_seen'])
      .orderBy('system_versions.version', 'desc')
      .orderBy('machines.name')
      .execute();
  }

  /**
   * The versions page's machines: a page of the machines that ever reported a version, by name,
   * each with every version it reported in the order it first saw them; and how many machines.
   */
  async versionTimeline(limit: number, offset = 0): Promise<{ machines: MachineVersions[]; total: number }> {
    const named = this.#db
      .selectFrom('machines')
      .select(['id', 'name'])
      .where('id', 'in', (eb) => eb.selectFrom('system_versions').select('machine_id'));
    const [page, count] = await Promise.all([
      named.orderBy('name').limit(limit).offset(offset).execute(),
      this.#db
        .selectFrom('system_versions')
        .select((e) => e.fn.count('machine_id').distinct().as('n'))
        .executeTakeFirstOrThrow(),
    ]);
    const seen =
      page.length === 0
        ? []
        : await this.#db
            .selectFrom('system_versions')
            .select(['machine_id', 'version', 'first_seen', 'last_seen'])
            .where(
              'machine_id',
              'in',
              page.map((m) => m.id),
            )
            .orderBy('first_seen')
            .orderBy('version')
            .execute();
    const machines = page.map((m) => ({
      machine: m.name,
      versions: seen.filter((v) => v.machine_id === m.id).map(({ version, first_seen, last_seen }) => ({ version, first_seen, last_seen })),
    }));
    return { machines, total: Number(count.n) };
  }

  /** Each machine's latest finished run (or one machine's, by id), by machine name: one query for the whole fleet. */
  async latestResults(only?: number | readonly number[]): Promise<Map<string, LatestResult>> {
    if (Array.isArray(only) && only.length === 0) return new Map();
    const rows = await this.#db
      .selectFrom('runs')
      .innerJoin('machines', 'machines.id', 'runs.machine_id')
      .select(['machines.name as machine', 'runs.id', 'runs.test', 'runs.state', 'runs.infos', 'runs.warnings', 'runs.errors', 'runs.finished_at'])
      .where('runs.id', 'in', (eb) => {
        const latest = eb
          .selectFrom('runs')
          .select((e) => e.fn.max('id').as('id'))
          .where('state', 'in', ['done', 'error'])
          .groupBy('machine_id');
        if (typeof only === 'number') return latest.where('machine_id', '=', only);
        return only === undefined ? latest : latest.where('machine_id', 'in', [...only]);
      })
      .execute();
    return new Map(rows.map(({ machine, ...run }) => [machine, run]));
  }

  /** The window results over time are drawn in: from the first finished run to `now`, or in the span asked for. */
  async resultWindow(now: Date, span?: ResultSpan): Promise<ResultWindow> {
    return resultWindow(await firstFinished(this.#db), now, span);
  }

  /** Finished runs per bucket of the window, oldest first, empty buckets filled in. */
  resultsOverTime(window: ResultWindow): Promise<Bucket[]> {
    return resultsOverTime(this.#db, window);
  }

  /** The machines with the most E: lines since `from`. */
  worstMachines(from: string, limit = 10): Promise<WorstMachine[]> {
    return worstMachines(this.#db, from, limit);
  }

  /** How many runs are in each state: for metrics. */
  async countByState(): Promise<Array<{ state: string; count: number }>> {
    const rows = await this.#db
      .selectFrom('runs')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    return rows.map((r) => ({ state: r.state, count: Number(r.n) }));
  }
}
