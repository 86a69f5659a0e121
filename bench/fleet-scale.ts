// anvil at fleet scale (issue 12, "Speed"): one `anvil serve` with --machines machines behind
// as many emulated BMCs, on SQLite and on PostgreSQL in the same run, then three conductors on
// PostgreSQL. Prints one table per part and the load average beside every figure.
//
//   source scripts/env.sh && node bench/fleet-scale.ts [--machines 10000] [--interval 60] [--passes 2]
//       [--loads 20] [--rps-seconds 10] [--connections 16] [--sweep-interval 1] [--port 13000]
//       [--history 20] [--backends sqlite,postgres] [--no-sweep] [--cpu-prof DIR] [--json FILE]
//
//   (a) power sync   `anvil serve` (its own process) syncs power every --interval seconds (60,
//                    the default of anvil serve) against `anvil bmc fake --count N` (another
//                    process, ports P..P+N-1). Measured from the end of the first pass (every
//                    machine read from 'unknown' to 'off', which the bench checks in the
//                    database) to the end of pass 1+--passes: the server's user+system CPU
//                    seconds over that wall time, as % of one core (issue's target: < 10 %).
//                    Passes are seen in the server's log (one 'power sync' line a pass, with
//                    how many it read and how long it took), not by asking the server: a
//                    /metrics scrape costs it ~20 ms of CPU at 10,000 machines.
//   (b) fleet page   GET / with a viewer token, one request at a time, --loads timed after one
//                    warm-up, while the server keeps syncing: p50/p95 per filter and sort (target
//                    p50 < 200 ms). On PostgreSQL the last-boot sort is timed again without the
//                    index of migration 011 (dropped, then created again): the before and after.
//   (c) machine URLs /profile/<mac>/ and /nexttest/<mac>/ (src/api/compat.ts) for random
//                    machines, --connections keep-alive clients for --rps-seconds each:
//                    requests per second, PostgreSQL / SQLite.
//   (d) sweep        three `anvil serve` on the PostgreSQL database of (a), started together,
//                    power sync every --sweep-interval s (1: passes back to back, so the three
//                    run at once whatever their start-up spread). A sweep is one power-status
//                    read of the whole fleet, each conductor reading the machines the hash ring
//                    gives it: the longest of the three conductors' passes, each the second to
//                    start once all three rings have the three members. Also shown: from the earliest of those passes' starts to the last
//                    one's end (start = the pass's log line − its duration). Against it: one
//                    conductor's pass over all N, from (a) on PostgreSQL. The fleet page filtered
//                    by one of the three owners is timed then too (in (b)'s table).
//
// The data are written in bulk (as test/web/fleet.test.ts does): every machine on the ipmi
// driver with its own BMC, a MAC, --history boot-log rows (next boots set and boots served, in
// turn; the last boots a second apart), every 40th a finished test run. The
// BMC password goes to the emulator through the environment, to anvil sealed in driver_info.
// PostgreSQL is a cluster of the bench's own (test/helpers/postgres.ts): initdb, a free port,
// stopped at the end. With --cpu-prof DIR the servers write V8 CPU profiles there.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openServices } from '../src/app/compose.ts';
import { openStore, type Store } from '../src/store/store.ts';
import { startServer, tempDir, type ServerProcess } from '../test/helpers/anvil-process.ts';
import { startPostgres, type PostgresCluster } from '../test/helpers/postgres.ts';
import { HOST, PASSWORD, USER, loadAverage, withEmulator } from './lib/bmc-fleet.ts';
import { cpuSecondsOf, cpuSplitOf } from './lib/proc.ts';
import { cell, percentile, table } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    machines: { type: 'string', default: '10000' },
    interval: { type: 'string', default: '60' },
    passes: { type: 'string', default: '2' },
    loads: { type: 'string', default: '20' },
    'rps-seconds': { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    'sweep-interval': { type: 'string', default: '1' },
    history: { type: 'string', default: '20' },
    port: { type: 'string', default: '13000' },
    backends: { type: 'string', default: 'sqlite,postgres' },
    'no-sweep': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    json: { type: 'string' },
  },
});

function positive(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}=${text} must be a positive number`);
  return n;
}
const N = Math.floor(positive('machines', values.machines));
const INTERVAL_S = positive('interval', values.interval);
const PASSES = Math.floor(positive('passes', values.passes));
const LOADS = Math.floor(positive('loads', values.loads));
const RPS_S = positive('rps-seconds', values['rps-seconds']);
const CONNECTIONS = Math.floor(positive('connections', values.connections));
const SWEEP_INTERVAL_S = positive('sweep-interval', values['sweep-interval']);
const BASE_PORT = Math.floor(positive('port', values.port));
const HISTORY = Math.floor(positive('history', values.history));
const BACKENDS = values.backends.split(',').map((b) => b.trim());
for (const b of BACKENDS) if (b !== 'sqlite' && b !== 'postgres') throw new Error(`--backends: '${b}' is not sqlite or postgres`);
if (BASE_PORT + N > 32768) throw new Error(`--port ${BASE_PORT} + ${N} BMCs reaches the ephemeral range (32768+): choose a lower --port`);
const SWEEP = !values['no-sweep'] && BACKENDS.includes('postgres');
const PROFILE_DIR = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;
if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
/** Seconds a pass may take before the bench gives up on it (a loaded machine is slow, not stuck). */
const PASS_TIMEOUT_S = 900;
const BATCH = 500;

const out = (line = '') => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nameOf = (i: number) => `node-${String(i).padStart(5, '0')}`;
const macOf = (i: number) => `52:54:01:${[(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
/** Every 40th machine ran a test: failed every 200th, with errors every 120th, clean otherwise. */
const resultOf = (i: number) => (i % 40 !== 0 ? 'none' : i % 200 === 0 ? 'failed' : i % 120 === 0 ? 'errors' : 'ok');

/** The fleet written to a store in bulk; every machine on ipmi with its own BMC, power unknown. */
async function seed(store: Store, sealedInfo: Record<string, unknown>): Promise<void> {
  const { db } = store;
  const now = new Date().toISOString();
  await db.transaction().execute(async (trx) => {
    for (let from = 2; from <= N; from += BATCH) {
      const numbers = Array.from({ length: Math.min(BATCH, N - from + 1) }, (_, k) => from + k);
      const rows = await trx
        .insertInto('machines')
        .values(
          numbers.map((i) => ({
            name: nameOf(i),
            driver: 'ipmi',
            driver_info: JSON.stringify({ ...sealedInfo, ipmi_port: BASE_PORT + i - 1 }),
            provision_state: i % 250 === 0 ? 'deploy-failed' : i % 100 === 0 ? 'deploying' : 'available',
            created_at: now,
            updated_at: now,
          })),
        )
        .returning(['id', 'name'])
        .execute();
      await trx
        .insertInto('macs')
        .values(rows.map((r) => ({ mac: macOf(Number(r.name.slice(5))), machine_id: r.id })))
        .execute();
    }
    const all = await trx.selectFrom('machines').select(['id', 'name']).execute();
    // A history of HISTORY boot-log rows per machine, round by round: a next boot set, then
    // that boot served; the last round's boots are a second apart in name order.
    for (let round = 0; round < HISTORY; round++) {
      const kind = (HISTORY - 1 - round) % 2 === 0 ? ('boot' as const) : ('nextboot' as const);
      for (let k = 0; k < all.length; k += BATCH) {
        await trx
          .insertInto('boot_log')
          .values(
            all.slice(k, k + BATCH).map((r) => ({
              machine_id: r.id,
              at: new Date(Date.now() - (HISTORY - 1 - round) * 3_600_000 - (N - Number(r.name.slice(5))) * 1000).toISOString(),
              kind,
              profile: kind === 'boot' ? 'local' : 'install',
              reason: kind === 'boot' ? 'boot served' : 'operator',
              loader: kind === 'boot' ? 'ipxe' : null,
              arch: null,
              address: null,
            })),
          )
          .execute();
      }
    }
    for (let k = 0; k < all.length; k += BATCH) {
      const rows = all.slice(k, k + BATCH);
      const ran = rows.map((r) => ({ ...r, result: resultOf(Number(r.name.slice(5))) })).filter((r) => r.result !== 'none');
      if (ran.length === 0) continue;
      await trx
        .insertInto('runs')
        .values(
          ran.map((r) => ({
            machine_id: r.id,
            test: 'hello',
            state: r.result === 'failed' ? ('error' as const) : ('done' as const),
            requested_at: now,
            sent_at: now,
            finished_at: now,
            errors: r.result === 'errors' ? 2 : 0,
            version: null,
            upload_path: null,
            upload_bytes: null,
            error_reason: r.result === 'failed' ? 'watchdog' : null,
          })),
        )
        .execute();
    }
  });
}

interface Prepared {
  readonly data: string;
  readonly databaseUrl: string | undefined;
  readonly token: string;
}

/** A data directory (and database) with the fleet in it, a viewer token for the pages and /metrics. */
async function prepare(backend: string, cluster: PostgresCluster | undefined): Promise<Prepared> {
  const data = tempDir('anvil-bench-scale-');
  let databaseUrl: string | undefined;
  if (backend === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: cluster!.url });
    await client.connect();
    await client.query('CREATE DATABASE fleet');
    await client.end();
    const url = new URL(cluster!.url);
    url.pathname = '/fleet';
    databaseUrl = url.href;
  }
  const services = await openServices({ data, databaseUrl });
  try {
    mkdirSync(join(data, 'tests'), { recursive: true });
    writeFileSync(join(data, 'tests/hello.test'), 'echo "I: hello {{ system }}"\n');
    writeFileSync(join(data, 'tests/wait.test'), 'sleep 60\n');
    await services.testing.sync();
    // The first machine through the services, as an operator enrols it: its sealed driver_info is the others' pattern.
    await services.machines.add(nameOf(1), [macOf(1)]);
    await services.control.configure(nameOf(1), {
      driver: 'ipmi',
      driverInfo: { ipmi_address: HOST, ipmi_port: BASE_PORT, ipmi_username: USER, ipmi_password: PASSWORD },
    });
    const first = await services.store.db.selectFrom('machines').select('driver_info').where('name', '=', nameOf(1)).executeTakeFirstOrThrow();
    await seed(services.store, JSON.parse(first.driver_info) as Record<string, unknown>);
    const { token } = await services.tokens.create('viewer', 'fleet-scale bench');
    return { data, databaseUrl, token };
  } finally {
    await services.close();
  }
}

/** `anvil serve` on the prepared data, power sync every intervalS; the URL never on a command line. */
function serve(p: Prepared, intervalS: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  return startServer(p.data, [], {
    ANVIL_POWER_SYNC_INTERVAL: String(intervalS),
    ...(p.databaseUrl ? { ANVIL_DATABASE_URL: p.databaseUrl } : {}),
    ...(PROFILE_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${PROFILE_DIR}` } : {}),
    ...extraEnv,
  });
}

/** A power-sync pass as the server logged it (one 'power sync' line a pass). */
interface Pass {
  /** Epoch ms of the log line: when the pass ended. */
  readonly endedAt: number;
  readonly seconds: number;
  readonly checked: number;
  /** Machines whose power state could not be read in the pass. */
  readonly failed: number;
}

/** The server's passes, read from its log as it grows (no request to the server, which would cost it CPU). */
class PassWatch {
  readonly passes: Pass[] = [];
  readonly #server: ServerProcess;
  #offset = 0;

  constructor(server: ServerProcess) {
    this.#server = server;
  }

  #read(): void {
    const text = this.#server.logs();
    const end = text.lastIndexOf('\n') + 1;
    for (const line of text.slice(this.#offset, end).split('\n')) {
      if (!line.includes('"msg":"power sync"')) continue;
      const entry = JSON.parse(line) as { time: number; seconds: number; checked: number; failed: string[] };
      this.passes.push({ endedAt: entry.time, seconds: entry.seconds, checked: entry.checked, failed: entry.failed.length });
    }
    this.#offset = end;
  }

  /** Waits for pass number n (1-based) to be logged. */
  async until(n: number): Promise<Pass> {
    const deadline = Date.now() + (INTERVAL_S + SWEEP_INTERVAL_S + PASS_TIMEOUT_S) * 1000 * Math.max(1, n);
    for (;;) {
      this.#read();
      if (this.passes.length >= n) return this.passes[n - 1]!;
      if (Date.now() > deadline) throw new Error(`power sync pass ${n} was not logged (${this.passes.length} so far)`);
      await sleep(100);
    }
  }

  /** Waits for the first pass that started after `at` (epoch ms) and returns its index. */
  async startedAfter(at: number): Promise<number> {
    for (let n = 1; ; n++) {
      const pass = await this.until(n);
      if (pass.endedAt - pass.seconds * 1000 > at) return n;
    }
  }
}

async function countOff(p: Prepared): Promise<number> {
  const store = await openStore(p.databaseUrl ? { postgresUrl: p.databaseUrl } : { sqlitePath: join(p.data, 'anvil.db') });
  try {
    const r = await store.db
      .selectFrom('machines')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('power_state', '=', 'off')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  } finally {
    await store.close();
  }
}

/** One GET on a keep-alive agent; resolves with status and milliseconds, the body read and dropped. */
function get(url: string, agent: Agent, headers: Record<string, string> = {}): Promise<{ status: number; ms: number; body: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(120_000, () => req.destroy(new Error(`${url}: no answer in 120 s`)));
    req.on('error', reject);
    req.end();
  });
}

interface SyncFigures {
  readonly firstPassS: number;
  readonly passS: number[];
  /** Failed reads in each pass, the first included. */
  readonly failed: number[];
  readonly windowS: number;
  readonly cpuS: number;
  readonly userS: number;
  /** Kernel time: on loopback a datagram's delivery to the emulator is charged to its sender. */
  readonly systemS: number;
  readonly percent: number;
  readonly off: number;
  readonly load: string;
}

async function powerSyncPart(server: ServerProcess, p: Prepared): Promise<SyncFigures> {
  const pid = server.child.pid!;
  const watch = new PassWatch(server);
  const first = await watch.until(1);
  const cpu0 = cpuSplitOf(pid);
  const at0 = performance.now();
  const off = await countOff(p);
  for (let k = 2; k <= 1 + PASSES; k++) await watch.until(k);
  const cpu1 = cpuSplitOf(pid);
  const userS = cpu1.user - cpu0.user;
  const systemS = cpu1.system - cpu0.system;
  const cpuS = userS + systemS;
  const windowS = (performance.now() - at0) / 1000;
  const passS = watch.passes.slice(1, 1 + PASSES).map((x) => x.seconds);
  const checked = watch.passes.slice(0, 1 + PASSES).map((x) => x.checked);
  const failed = watch.passes.slice(0, 1 + PASSES).map((x) => x.failed);
  if (checked.some((c) => c !== N)) throw new Error(`a pass read ${checked.join(', ')} machines, not ${N} each`);
  return { firstPassS: first.seconds, passS, failed, windowS, cpuS, userS, systemS, percent: (100 * cpuS) / windowS, off, load: loadAverage() };
}

interface PageFigures {
  readonly label: string;
  readonly path: string;
  readonly p50: number | undefined;
  readonly p95: number | undefined;
  readonly shown: string;
}

async function timePage(server: ServerProcess, token: string, label: string, path: string): Promise<PageFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const headers = { authorization: `Bearer ${token}` };
  try {
    const warm = await get(server.url + path, agent, headers);
    if (warm.status !== 200) throw new Error(`GET ${path} answered ${warm.status}: ${warm.body.slice(0, 300)}`);
    const times: number[] = [];
    for (let k = 0; k < LOADS; k++) {
      const r = await get(server.url + path, agent, headers);
      if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}`);
      times.push(r.ms);
    }
    // "Showing 1–100 of 3,334 matching": what the filter found, so a filter that matched nothing is seen.
    const showing = /<p class="showing" id="showing">([\s\S]*?)<\/p>/.exec(warm.body)?.[1]?.replace(/<[^>]+>/g, '') ?? '';
    const shown = /No machine matches/.test(showing) ? '0' : (/ of ([\d,]+)/.exec(showing)?.[1] ?? '?');
    return { label, path, p50: percentile(times, 0.5), p95: percentile(times, 0.95), shown };
  } finally {
    agent.destroy();
  }
}

/** The page's filters and sorts; the owner is the conductor named in the first row's owner cell. */
async function pagePaths(server: ServerProcess, token: string): Promise<Array<[string, string]>> {
  const agent = new Agent({ keepAlive: false });
  const home = await get(`${server.url}/`, agent, { authorization: `Bearer ${token}` });
  const owner = /data-field="owner"[^>]*>([^<]+)</.exec(home.body)?.[1];
  const paths: Array<[string, string]> = [
    ['first page (by name)', '/'],
    ['page 50', '/?page=50'],
    ['state=available', '/?state=available'],
    ['state=failed (group)', '/?state=failed'],
    ['driver=ipmi', '/?driver=ipmi'],
    ['power=off', '/?power=off'],
    ['result=failing', '/?result=failing'],
    ['result=ok', '/?result=ok'],
    ['name: q=node-012', '/?q=node-012'],
    ['MAC: q=52:54:01:00:10:e1', '/?q=52%3A54%3A01%3A00%3A10%3Ae1'],
    ['sort=boot desc (last boot)', '/?sort=boot&dir=desc'],
    ['sort=result', '/?sort=result'],
    ['sort=power, page 20', '/?sort=power&page=20'],
    ['state=available, sort=boot', '/?state=available&sort=boot&dir=desc'],
  ];
  if (owner) paths.splice(5, 0, ['owner=<conductor>', `/?owner=${encodeURIComponent(owner)}`]);
  return paths;
}

interface RpsFigures {
  readonly path: string;
  readonly rps: number;
  readonly ok: number;
  readonly errors: number;
  readonly p50: number | undefined;
}

/** CONNECTIONS clients, each one keep-alive connection, asking for random machines for RPS_S seconds. */
async function rpsOf(server: ServerProcess, route: string): Promise<RpsFigures> {
  const stopAt = performance.now() + RPS_S * 1000;
  let ok = 0;
  let errors = 0;
  const times: number[] = [];
  const client = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (performance.now() < stopAt) {
        const i = 1 + Math.floor(Math.random() * N);
        try {
          const r = await get(`${server.url}${route}${macOf(i)}/`, agent);
          if (r.status === 200) ok++;
          else errors++;
          times.push(r.ms);
        } catch {
          errors++;
        }
      }
    } finally {
      agent.destroy();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, client));
  return { path: `${route}<mac>/`, rps: ok / ((performance.now() - started) / 1000), ok, errors, p50: percentile(times, 0.5) };
}

interface BackendFigures {
  readonly backend: string;
  readonly sync: SyncFigures;
  readonly pages: PageFigures[];
  readonly rps: RpsFigures[];
}

const BOOT_INDEX = 'boot_log_machine_boot';

async function runBackend(backend: string, cluster: PostgresCluster | undefined): Promise<{ figures: BackendFigures; prepared: Prepared }> {
  const seeding = performance.now();
  const prepared = await prepare(backend, cluster);
  out(`[${backend}] ${N} machines written in ${((performance.now() - seeding) / 1000).toFixed(1)} s; anvil serve, power sync every ${INTERVAL_S} s`);
  const server = await serve(prepared, INTERVAL_S);
  try {
    const sync = await powerSyncPart(server, prepared);
    out(`[${backend}] power sync: ${sync.cpuS.toFixed(1)} CPU s over ${sync.windowS.toFixed(0)} s, load ${sync.load}`);
    const pages: PageFigures[] = [];
    for (const [label, path] of await pagePaths(server, prepared.token)) pages.push(await timePage(server, prepared.token, label, path));
    if (backend === 'postgres') {
      // The last-boot sort without migration 011's index, then with it again: the before and after.
      const store = await openStore({ postgresUrl: prepared.databaseUrl! });
      try {
        await sql`drop index ${sql.id(BOOT_INDEX)}`.execute(store.db);
        pages.push(await timePage(server, prepared.token, 'sort=boot desc, WITHOUT index 011', '/?sort=boot&dir=desc'));
        pages.push(await timePage(server, prepared.token, 'state=available, sort=boot, WITHOUT 011', '/?state=available&sort=boot&dir=desc'));
      } finally {
        await sql`create index if not exists ${sql.id(BOOT_INDEX)} on boot_log (machine_id, id) where kind = 'boot'`.execute(store.db);
        await store.close();
      }
    }
    out(`[${backend}] fleet page timed, load ${loadAverage()}`);
    const rps = [await rpsOf(server, '/profile/'), await rpsOf(server, '/nexttest/')];
    out(`[${backend}] machine URLs timed, load ${loadAverage()}`);
    return { figures: { backend, sync, pages, rps }, prepared };
  } finally {
    await server.stop();
  }
}

interface SweepFigures {
  /** The fleet page filtered by one of the three owners (on the first server). */
  readonly ownerPage: PageFigures;
  readonly conductors: Array<{ machines: number; checked: number; failed: number; passS: number; cpuS: number }>;
  /** The longest of the three passes. */
  readonly sweepS: number;
  /** The earliest pass start to the last pass end. */
  readonly spanS: number;
  readonly staggerS: number;
  readonly load: string;
}

/** Three conductors on the PostgreSQL data of (a), started together; the sweep of their second passes. */
async function sweepPart(prepared: Prepared): Promise<SweepFigures> {
  const dirs = [tempDir('anvil-bench-scale-'), tempDir('anvil-bench-scale-'), tempDir('anvil-bench-scale-')];
  for (const dir of dirs) copyFileSync(join(prepared.data, 'secret.key'), join(dir, 'secret.key'));
  const env = { ANVIL_CONDUCTOR_HEARTBEAT: '2', ANVIL_CONDUCTOR_DEAD_AFTER: '6' };
  const servers = await Promise.all(dirs.map((data) => serve({ ...prepared, data }, SWEEP_INTERVAL_S, env)));
  try {
    // Every machine owned once among three live conductors before the measured pass.
    const list = async () => {
      const res = await fetch(`${servers[0]!.url}/api/v1/conductors`, { headers: { authorization: `Bearer ${prepared.token}` } });
      return ((await res.json()) as { conductors: Array<{ id: string; alive: boolean; machines: number; pid: number }> }).conductors;
    };
    let conductors = await list();
    for (let k = 0; conductors.filter((c) => c.alive).length < 3; k++) {
      if (k > 300) throw new Error('three live conductors were not seen');
      await sleep(200);
      conductors = await list();
    }
    const owned = conductors.filter((c) => c.alive).reduce((n, c) => n + c.machines, 0);
    if (owned !== N) throw new Error(`the conductors own ${owned} machines, not ${N}`);
    // Each ring has the three members by two heartbeats later; a pass started after that, to warm
    // up, then the next one is measured.
    const settled = Date.now() + 2 * 2000;
    const watches = servers.map((s) => new PassWatch(s));
    const warm = await Promise.all(watches.map((w) => w.startedAfter(settled)));
    const cpu0 = servers.map((s) => cpuSecondsOf(s.child.pid!));
    const seen = await Promise.all(watches.map((w, i) => w.until(warm[i]! + 1)));
    const cpuS = servers.map((s, i) => cpuSecondsOf(s.child.pid!) - cpu0[i]!);
    const checked = seen.reduce((n, x) => n + x.checked, 0);
    if (checked !== N) throw new Error(`the three measured passes read ${checked} machines, not ${N}`);
    const starts = seen.map((x) => x.endedAt - x.seconds * 1000);
    const ends = seen.map((x) => x.endedAt);
    const share = (s: ServerProcess) => conductors.find((c) => c.pid === s.child.pid)?.machines ?? Number.NaN;
    // The owner filter where it narrows: a third of the fleet, its ids matched in SQL.
    const alive = conductors.filter((c) => c.alive);
    const ownerPage = await timePage(servers[0]!, prepared.token, 'owner=<1 of 3 conductors>', `/?owner=${encodeURIComponent(alive[0]!.id)}`);
    return {
      ownerPage,
      conductors: servers.map((s, i) => ({ machines: share(s), checked: seen[i]!.checked, failed: seen[i]!.failed, passS: seen[i]!.seconds, cpuS: cpuS[i]! })),
      sweepS: Math.max(...seen.map((x) => x.seconds)),
      spanS: (Math.max(...ends) - Math.min(...starts)) / 1000,
      staggerS: (Math.max(...starts) - Math.min(...starts)) / 1000,
      load: loadAverage(),
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

out(
  `anvil at fleet scale: ${N} machines behind ${N} emulated BMCs (anvil bmc fake, its own process, ports ${BASE_PORT}-${BASE_PORT + N - 1}), ${availableParallelism()} CPUs, load ${loadAverage()} at start`,
);
const results: BackendFigures[] = [];
let sweep: SweepFigures | undefined;
let cluster: PostgresCluster | undefined;
const kept: Prepared[] = [];
try {
  if (BACKENDS.includes('postgres')) cluster = await startPostgres();
  await withEmulator({ basePort: BASE_PORT, count: N }, async () => {
    let postgres: Prepared | undefined;
    for (const backend of BACKENDS) {
      const { figures, prepared } = await runBackend(backend, cluster);
      kept.push(prepared);
      results.push(figures);
      if (backend === 'postgres') postgres = prepared;
    }
    if (SWEEP && postgres) {
      sweep = await sweepPart(postgres);
      results.find((r) => r.backend === 'postgres')!.pages.push(sweep.ownerPage);
    }
  });
} finally {
  cluster?.kill();
  for (const p of kept) rmSync(p.data, { recursive: true, force: true });
}

const f1 = (n: number | undefined) => cell(n, 1);
out();
out(`(a) power sync every ${INTERVAL_S} s, one anvil serve, ${N} machines; CPU from the end of pass 1 over ${PASSES} more passes (target < 10 % of one core)`);
out(
  table([
    ['backend', 'pass 1 s', 'later passes s', 'failed reads', 'all off after pass 1', 'window s', 'CPU s (user+sys)', '% of one core', 'load'],
    ...results.map((r) => [
      r.backend,
      f1(r.sync.firstPassS),
      r.sync.passS.map((s) => s.toFixed(1)).join(' '),
      r.sync.failed.join(' '),
      `${r.sync.off}/${N}`,
      cell(r.sync.windowS),
      `${f1(r.sync.cpuS)} (${f1(r.sync.userS)}+${f1(r.sync.systemS)})`,
      f1(r.sync.percent),
      r.sync.load,
    ]),
  ]),
);
out();
out(`(b) fleet page at ${N} machines, 100 rows, ${LOADS} loads each after a warm-up, one at a time, ms (target p50 < 200)`);
const labels = [...new Set(results.flatMap((r) => r.pages.map((p) => p.label)))];
out(
  table([
    ['page', 'found', ...results.flatMap((r) => [`${r.backend} p50`, `${r.backend} p95`])],
    ...labels.map((label) => {
      const found = results.map((r) => r.pages.find((p) => p.label === label)?.shown).find((s) => s !== undefined) ?? '';
      return [
        label,
        found,
        ...results.flatMap((r) => [r.pages.find((p) => p.label === label)?.p50, r.pages.find((p) => p.label === label)?.p95].map((v) => f1(v))),
      ];
    }),
  ]),
);
out();
out(`(c) machine-facing URLs, ${CONNECTIONS} keep-alive clients for ${RPS_S} s each, random machines`);
const routes = results[0]?.rps.map((r) => r.path) ?? [];
const sqlite = results.find((r) => r.backend === 'sqlite');
const postgres = results.find((r) => r.backend === 'postgres');
out(
  table([
    [
      'route',
      ...results.flatMap((r) => [`${r.backend} req/s`, `${r.backend} p50 ms`, `${r.backend} errors`]),
      ...(sqlite && postgres ? ['postgres / sqlite'] : []),
    ],
    ...routes.map((route) => {
      const of = (r: BackendFigures | undefined) => r?.rps.find((x) => x.path === route);
      return [
        route,
        ...results.flatMap((r) => [cell(of(r)?.rps), f1(of(r)?.p50), String(of(r)?.errors ?? '-')]),
        ...(sqlite && postgres ? [`${((of(postgres)?.rps ?? 0) / (of(sqlite)?.rps ?? 1)).toFixed(2)}`] : []),
      ];
    }),
  ]),
);
if (sweep && postgres) {
  const one = postgres.sync.passS;
  const oneMedian = percentile(one, 0.5);
  out();
  out(
    `(d) a power-status sweep of all ${N} machines on PostgreSQL (steady state, no change to record): one conductor's pass against the longest of three conductors' passes, all three syncing at once (passes ${SWEEP_INTERVAL_S} s apart)`,
  );
  out(
    table([
      [
        'conductors',
        'machines each',
        'pass s each',
        'failed reads',
        'CPU s each',
        'sweep s',
        'first start to last end s',
        'starts spread s',
        'speed-up',
        'load',
      ],
      [
        '1 (from a)',
        String(N),
        one.map((s) => s.toFixed(1)).join(' '),
        postgres.sync.failed.slice(1).join(' '),
        '-',
        f1(oneMedian),
        '-',
        '-',
        '1.00',
        postgres.sync.load,
      ],
      [
        '3',
        sweep.conductors.map((c) => String(c.machines)).join(' '),
        sweep.conductors.map((c) => c.passS.toFixed(1)).join(' '),
        sweep.conductors.map((c) => String(c.failed)).join(' '),
        sweep.conductors.map((c) => c.cpuS.toFixed(1)).join(' '),
        f1(sweep.sweepS),
        f1(sweep.spanS),
        f1(sweep.staggerS),
        oneMedian === undefined ? '-' : (oneMedian / sweep.sweepS).toFixed(2),
        sweep.load,
      ],
    ]),
  );
}
out();
out(`load ${loadAverage()} at the end (1-minute average, ${availableParallelism()} CPUs)`);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ machines: N, backends: results, sweep }, null, 2)}\n`);
