// Three `anvil serve` processes on one PostgreSQL database and 300 emulated BMCs (`anvil bmc
// fake --count 300 --log-power`, which prints every chassis power action a BMC carries out):
// a sweep of power-on requests spread across the three, each run on its machine's owner
// conductor (src/conductor/work.ts), with a kill -9 of one process in the middle. Afterwards
// every machine is owned again, the dead one holds no lock, no operation ran twice (what the
// BMCs received says so), none was lost (each answered done, or reported failed or
// interrupted, or was in flight to the killed process; every queued row reached an end), and
// the survivors' power sync covers all 300.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANVIL, exec, startServer, type ServerProcess } from '../helpers/anvil-process.ts';
import { freshDatabase, havePostgres } from '../helpers/postgres.ts';
import { enrolCluster, startBmcFleet, synced, until } from '../helpers/cluster.ts';
import { openStore } from '../../src/store/store.ts';
import { nextIpv4 } from '../../src/cli/bmc-fake.ts';

const MACHINES = 300;
const PASSWORD = 'sweep-bmc-pw';
const HEARTBEAT_S = 1;
const DEAD_AFTER_S = 3;
/** Requests in flight at once across the three servers. */
const PARALLEL = 24;
/** Each BMC shows a power change this long after it took it, so operations are in flight on the victim when it dies. */
const POWER_DELAY_MS = 1_500;
/** The victim dies once this many answers came back. */
const KILL_AFTER = 100;

interface ConductorView {
  id: string;
  pid: number;
  alive: boolean;
  machines: number;
}

type Outcome = { kind: 'answer'; status: number; code?: string; message?: string; server: number } | { kind: 'cut'; server: number; error: string };

test('a sweep of power-on across three conductors survives a kill -9: each ran at most once, none lost', { timeout: 1_200_000 }, async (t) => {
  if (!havePostgres(t)) return;
  const url = await freshDatabase();
  const addressOf = (i: number) => nextIpv4('127.0.0.1', i - 1);
  const fleet = await startBmcFleet(t, {
    count: MACHINES,
    password: PASSWORD,
    last: addressOf(MACHINES),
    extra: ['--log-power', '--power-delay', String(POWER_DELAY_MS)],
  });
  const { port } = fleet;
  /** Chassis power actions each BMC carried out, by machine name. */
  const received = (action: string) => {
    const counts = new Map<string, number>();
    const byAddress = new Map(Array.from({ length: MACHINES }, (_, i) => [`${addressOf(i + 1)}:${port}`, `node-${i + 1}`]));
    for (const line of fleet.out().split('\n')) {
      const match = /^power (\S+) (\S+)$/.exec(line);
      if (!match || match[1] !== action) continue;
      const name = byAddress.get(match[2]!);
      if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    return counts;
  };

  const dirs = await enrolCluster(url, {
    count: MACHINES,
    port,
    password: PASSWORD,
    mac: (i) => `52:54:00:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
    address: addressOf,
  });

  const settings = {
    ANVIL_DATABASE_URL: url,
    ANVIL_CONDUCTOR_HEARTBEAT: String(HEARTBEAT_S),
    ANVIL_CONDUCTOR_DEAD_AFTER: String(DEAD_AFTER_S),
    ANVIL_POWER_SYNC_INTERVAL: '2',
  };
  const saved = Object.fromEntries(Object.keys(settings).map((k) => [k, process.env[k]]));
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  Object.assign(process.env, settings);
  const servers: ServerProcess[] = [];
  for (const dir of dirs) {
    const server = await startServer(dir);
    servers.push(server);
    t.after(() => server.stop());
  }
  const store = await openStore({ postgresUrl: url });
  t.after(() => store.close());
  const token = (await exec(ANVIL, ['token', 'create', '--role', 'operator', '--data', dirs[0]!])).stdout.trim();
  const conductors = async (server: ServerProcess) => {
    const res = await fetch(`${server.url}/api/v1/conductors`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { conductors: ConductorView[] }).conductors;
  };
  const listed = await until('three live conductors', 120_000, async () => {
    const list = await conductors(servers[0]!);
    return list.filter((c) => c.alive).length === 3 ? list : undefined;
  });
  assert.equal(
    listed.reduce((sum, c) => sum + c.machines, 0),
    MACHINES,
  );
  await until('power sync recorded every machine off', 300_000, async () =>
    (await store.db.selectFrom('machines').select('power_state').execute()).every((m) => m.power_state === 'off') ? true : undefined,
  );
  assert.equal(received('on').size, 0, 'no BMC was powered on before the sweep');

  // The sweep: request i goes to server i % 3 until the kill, then to the survivors only.
  const victim = servers[2]!;
  const victimId = listed.find((c) => c.pid === victim.child.pid)?.id;
  assert.ok(victimId, 'the API names the victim’s conductor by its pid');
  let killed = false;
  let answers = 0;
  const outcomes = new Map<string, Outcome>();
  const queue = Array.from({ length: MACHINES }, (_, i) => i + 1);
  const killedAt: number[] = [];
  // Watched from the kill on, while the sweep goes on through the survivors.
  const ownedAgain = () =>
    until('the survivors own every machine', 120_000, async () => {
      const list = await conductors(servers[0]!);
      const alive = list.filter((c) => c.alive);
      return alive.length === 2 && alive.reduce((sum, c) => sum + c.machines, 0) === MACHINES ? { list, ms: Date.now() - killedAt[0]! } : undefined;
    });
  let takeover: ReturnType<typeof ownedAgain> | undefined;
  const worker = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const name = `node-${i}`;
      const index = killed ? i % 2 : i % 3;
      try {
        const res = await fetch(`${servers[index]!.url}/api/v1/machines/${name}/power`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ target: 'on', timeout: 120 }),
        });
        const body = (await res.json()) as { error?: { code: string; message: string } };
        outcomes.set(name, {
          kind: 'answer',
          status: res.status,
          server: index,
          ...(body.error ? { code: body.error.code, message: body.error.message } : {}),
        });
      } catch (error) {
        outcomes.set(name, { kind: 'cut', server: index, error: String((error as Error).cause ?? error) });
      }
      answers++;
      if (answers === KILL_AFTER && !killed) {
        killed = true;
        killedAt.push(Date.now());
        victim.child.kill('SIGKILL');
        takeover = ownedAgain();
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  await new Promise((resolve) =>
    victim.child.exitCode !== null || victim.child.signalCode !== null ? resolve(undefined) : victim.child.once('exit', resolve),
  );

  // Within the takeover time the survivors own every machine and the dead one holds no lock.
  assert.ok(takeover, 'the victim was killed during the sweep');
  const { list: after, ms } = await takeover;
  // A figure, not an assertion (the machine may be loaded): dead after 3 s, then the next heartbeat.
  t.diagnostic(
    `the survivors owned every machine ${ms} ms after the kill (dead after ${DEAD_AFTER_S} s, heartbeat ${HEARTBEAT_S} s), the sweep still going on`,
  );
  assert.equal(after.find((c) => c.id === victimId)?.alive, false);
  await until('no lock held by the dead conductor', 120_000, async () => {
    const held = await store.db.selectFrom('machines').select('name').where('reservation_conductor', '=', victimId).execute();
    return held.length === 0 ? true : undefined;
  });
  // Every queued operation reached an end: none is left queued or running.
  const rows = await until('every work item finished', 120_000, async () => {
    const all = await store.db.selectFrom('work_items').selectAll().execute();
    return all.every((r) => r.state !== 'queued' && r.state !== 'running') ? all : undefined;
  });

  // What the BMCs received: no machine powered on twice.
  const on = received('on');
  const twice = [...on].filter(([, n]) => n > 1).map(([name]) => name);
  assert.deepEqual(twice, [], 'no power-on was carried out twice');
  const tally = { done: 0, failed: 0, interrupted: 0, cut: 0, queuedByVictim: 0 };
  for (let i = 1; i <= MACHINES; i++) {
    const name = `node-${i}`;
    const outcome = outcomes.get(name);
    assert.ok(outcome, `${name} was asked`);
    const row = rows.find((r) => r.machine_name === name);
    if (outcome.kind === 'answer' && outcome.status === 200) {
      tally.done++;
      assert.equal(on.get(name), 1, `${name}: answered on, so its BMC was powered on exactly once`);
      if (row) assert.equal(row.state, 'done', `${name}: its work item says done`);
      if (row) assert.notEqual(row.conductor, null);
    } else if (outcome.kind === 'answer') {
      // An answer that says why: interrupted (the dead one ran it) or failed (e.g. not taken up).
      assert.ok(outcome.code, `${name}: an error answer names its code (${outcome.status})`);
      if (outcome.code === 'WORK_INTERRUPTED') tally.interrupted++;
      else tally.failed++;
      t.diagnostic(`${name}: ${outcome.status} ${outcome.code}: ${outcome.message}`);
      if (row?.state === 'done') assert.fail(`${name}: its requester was told ${outcome.code} but the row says done`);
    } else {
      // In flight to the killed process: run inline there (at most once, no row) or queued by it for an owner (run once).
      tally.cut++;
      assert.equal(outcome.server, 2, `${name}: only requests to the killed process may be cut (${outcome.error})`);
      if (row) {
        tally.queuedByVictim++;
        assert.equal(row.requested_conductor, victimId);
        if (row.state === 'done') assert.equal(on.get(name), 1, `${name}: queued by the dead one and done by its owner, once`);
      }
    }
    if (row?.state === 'interrupted') assert.match(row.error ?? '', new RegExp(`conductor ${victimId} stopped heartbeating`));
  }
  t.diagnostic(
    `sweep outcomes: ${JSON.stringify(tally)}; work items ${rows.length} (${['done', 'failed', 'interrupted'].map((s) => `${s} ${rows.filter((r) => r.state === s).length}`).join(', ')}); BMCs powered on: ${on.size}`,
  );
  assert.ok(tally.done >= MACHINES - PARALLEL * 2, `most operations answered done (${tally.done})`);
  assert.ok(
    rows.some((r) => r.requested_conductor !== r.conductor && r.conductor !== victimId && r.state === 'done'),
    'some operations ran on another conductor than the one asked',
  );

  // The survivors' power sync covers all 300: the BMCs turned off, then on, outside anvil, and each change is recorded by one survivor.
  const hosts = `127.0.0.[1-255],127.0.1.[0-${MACHINES - 256}]`;
  const ipmi = (action: string) => exec(ANVIL, ['ipmi', '-H', hosts, '-p', String(port), '-U', 'admin', '-E', 'power', action], { IPMI_PASSWORD: PASSWORD });
  const powerIs = (state: string) => async () =>
    (await store.db.selectFrom('machines').select('power_state').execute()).every((m) => m.power_state === state) ? true : undefined;
  const offRun = await ipmi('off');
  assert.equal(offRun.code, 0, offRun.stdout + offRun.stderr);
  await until('power sync recorded every machine off', 300_000, powerIs('off'));
  const logsAtOn = servers.slice(0, 2).map((s) => s.logs().length);
  const onRun = await ipmi('on');
  assert.equal(onRun.code, 0, onRun.stdout + onRun.stderr);
  await until('power sync recorded every machine on', 300_000, powerIs('on'));
  const changedBy = await until('the survivors’ logs to name every machine’s change', 120_000, async () => {
    const sets = servers.slice(0, 2).map((server, i) => synced(server, logsAtOn[i]));
    return sets[0]!.size + sets[1]!.size >= MACHINES ? sets : undefined;
  });
  assert.deepEqual(
    [...changedBy[0]!].filter((n) => changedBy[1]!.has(n)),
    [],
    'no machine was synced by both survivors',
  );
  assert.equal(changedBy[0]!.size + changedBy[1]!.size, MACHINES, 'between them the survivors recorded every machine’s change');
  for (const server of servers.slice(0, 2)) assert.equal(server.child.exitCode, null, 'the survivors keep running');
  assert.doesNotMatch(servers[0]!.logs() + servers[1]!.logs(), new RegExp(PASSWORD));
});
