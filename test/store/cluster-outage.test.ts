// Three `anvil serve` processes on one PostgreSQL with emulated BMCs, under steady load (the
// machines' boot, profile and test URLs, API reads, power operations and power sync), while
// PostgreSQL is stopped for longer than a conductor's dead-after timeout and started again on
// the same port and data: every process keeps running, says the database is unreachable and
// what to do, answers 503 meanwhile (never a hang or a reset), and recovers without a restart —
// heartbeats resume, no conductor is judged dead for the outage (its machines and locks stay its
// own), and power sync covers the fleet again, each machine on exactly one conductor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ANVIL, exec, startServer, type ServerProcess } from '../helpers/anvil-process.ts';
import { enrolCluster, logEntries, logged, startBmcFleet, synced, until } from '../helpers/cluster.ts';
import { havePostgres, startPostgres } from '../helpers/postgres.ts';
import { openStore } from '../../src/store/store.ts';

const MACHINES = 12;
const PASSWORD = 'outage-bmc-pw';
/** Seconds: heartbeat every 1 s, dead after 3 s, power sync every second. */
const HEARTBEAT_S = 1;
const DEAD_AFTER_S = 3;
/** How long PostgreSQL stays down: longer than dead-after, so every heartbeat in the database looks dead when it is back. */
const OUTAGE_MS = (DEAD_AFTER_S + 3) * 1000;
/** A request that has not answered after this long is a hang. */
const HANG_MS = 60_000;

interface ConductorView {
  id: string;
  pid: number;
  alive: boolean;
  machines: number;
  heartbeatAt: string;
}

interface Answer {
  server: number;
  path: string;
  at: number;
  status: number | 'hang' | 'reset';
  body: string;
}

const mac = (i: number) => `52:54:00:00:20:${i.toString(16).padStart(2, '0')}`;

test('three conductors under load ride out a PostgreSQL outage and recover without a restart', { timeout: 900_000 }, async (t) => {
  if (!havePostgres(t)) return;
  const cluster = await startPostgres();
  t.after(() => cluster.kill());
  const url = cluster.url;
  const { port } = await startBmcFleet(t, { count: MACHINES, password: PASSWORD, last: `127.0.0.${MACHINES}` });
  const dirs = await enrolCluster(url, { count: MACHINES, port, password: PASSWORD, mac, address: (i) => `127.0.0.${i}` });
  // What /nexttest/ sends a machine with nothing queued.
  for (const dir of dirs) {
    mkdirSync(join(dir, 'tests'), { recursive: true });
    writeFileSync(join(dir, 'tests/wait.test'), '#!/bin/sh\nsleep 30\n');
  }

  const env = {
    ANVIL_DATABASE_URL: url,
    ANVIL_CONDUCTOR_HEARTBEAT: String(HEARTBEAT_S),
    ANVIL_CONDUCTOR_DEAD_AFTER: String(DEAD_AFTER_S),
    ANVIL_POWER_SYNC_INTERVAL: '1',
    ANVIL_CHANGE_POLL_INTERVAL: '600',
  };
  const servers: ServerProcess[] = [];
  // A server that ended (crashed) says why in its last lines (this hook runs before the ones that stop them).
  t.after(() => {
    for (const server of servers)
      if (server.child.exitCode !== null || server.child.signalCode !== null) t.diagnostic(`pid ${server.child.pid} ended:\n${server.logs().slice(-6000)}`);
  });
  for (const dir of dirs) {
    const server = await startServer(dir, [], env);
    servers.push(server);
    t.after(() => server.stop());
  }
  const store = await openStore({ postgresUrl: url, log: { warn: () => {}, info: () => {} } });
  t.after(() => store.close());
  const token = (await exec(ANVIL, ['token', 'create', '--role', 'operator', '--data', dirs[0]!], env)).stdout.trim();
  const auth = { authorization: `Bearer ${token}` };
  const conductors = async (server: ServerProcess) => {
    const res = await fetch(`${server.url}/api/v1/conductors`, { headers: auth });
    assert.equal(res.status, 200);
    return ((await res.json()) as { conductors: ConductorView[] }).conductors;
  };
  const powerStates = async () => (await store.db.selectFrom('machines').select(['name', 'power_state']).execute()).map((m) => m.power_state);
  const health = async (server: ServerProcess) => {
    const res = await fetch(`${server.url}/api/v1/health`, { signal: AbortSignal.timeout(HANG_MS) });
    return { status: res.status, body: await res.text() };
  };

  await until('three live conductors', 60_000, async () => ((await conductors(servers[0]!)).filter((c) => c.alive).length === 3 ? true : undefined));
  await until('power sync recorded every machine off', 120_000, async () => ((await powerStates()).every((s) => s === 'off') ? true : undefined));

  // A lock server 0's conductor holds, as if its operation ran through the outage: it must still be its own afterwards.
  const owner = (await conductors(servers[0]!)).find((c) => c.pid === servers[0]!.child.pid);
  assert.ok(owner, 'the API names server 0’s conductor by its pid');
  const heldHolder = `anvil serve (pid ${servers[0]!.child.pid} on ${hostname()}): power on (api)`;
  await store.db.updateTable('machines').set({ reservation: heldHolder, reservation_conductor: owner.id }).where('name', '=', 'node-1').execute();

  // Steady load on every server: what machines ask, what operators read, and power operations (off, as they are, so power sync has nothing to fix).
  const answers: Answer[] = [];
  let loading = true;
  t.after(() => {
    loading = false;
  });
  const load = async (index: number) => {
    const server = servers[index]!;
    for (let round = 0; loading; round++) {
      // Each server its own machines (2, 5, 8; 3, 6, 9; 4, 7, 10), so two power operations never meet on one.
      const i = 2 + index + 3 * (round % 3);
      const requests: [string, RequestInit][] = [
        [`/boot/${mac(i)}`, {}],
        [`/profile/${mac(i)}/`, {}],
        [`/nexttest/${mac(i)}/`, {}],
        ['/api/v1/machines', { headers: auth }],
        [`/api/v1/machines/node-${i}`, { headers: auth }],
        [
          `/api/v1/machines/node-${i}/power`,
          { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ target: 'off' }) },
        ],
      ];
      for (const [path, init] of requests) {
        const at = Date.now();
        let status: Answer['status'];
        let body = '';
        try {
          const res = await fetch(`${server.url}${path}`, { ...init, signal: AbortSignal.timeout(HANG_MS) });
          status = res.status;
          body = await res.text();
        } catch (error) {
          status = (error as Error).name === 'TimeoutError' ? 'hang' : 'reset';
          body = String((error as Error).cause ?? error);
        }
        answers.push({ server: index, path, at, status, body: body.slice(0, 400) });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const loads = servers.map((_, i) => load(i));
  await until('load answered on every server', 120_000, async () =>
    servers.every((_, i) => answers.some((a) => a.server === i && a.path.endsWith('/power'))) ? true : undefined,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; answers: ${JSON.stringify(answers.slice(0, 12))}`);
  });
  for (const a of answers) assert.equal(a.status, 200, `before the outage every request succeeds: ${JSON.stringify(a)}`);

  // The outage.
  const logsAtStop = servers.map((s) => s.logs().length);
  const stoppedAt = Date.now();
  await cluster.stop();
  await Promise.all(servers.map((s, i) => logged(s, /database connection to PostgreSQL at 127\.0\.0\.1:\d+\/postgres was lost/, logsAtStop[i])));
  for (const server of servers) {
    const h = await health(server);
    assert.equal(h.status, 503, `the health check says the database is away: ${h.body}`);
    const error = (JSON.parse(h.body) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'STORE_UNREACHABLE');
    assert.match(error.message, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${cluster.port}/postgres`));
    assert.match(error.message, /start it|check that PostgreSQL is running/);
    assert.doesNotMatch(h.body, new RegExp(cluster.password));
  }
  // Down for longer than dead-after, with the load going on (this is the outage, not a wait for an event).
  await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))));
  const startedAt = Date.now();
  await cluster.start();
  const outage = answers.filter((a) => a.at > stoppedAt && a.at < startedAt);
  t.diagnostic(`PostgreSQL was down ${startedAt - stoppedAt} ms; ${outage.length} requests meanwhile`);
  assert.ok(
    servers.every((_, i) => outage.some((a) => a.server === i && a.status === 503)),
    'every server answered requests during the outage',
  );
  for (const a of outage) {
    assert.ok(a.status === 503 || a.status === 200 || a.status === 409, `during the outage a request fails with 503, not ${a.status}: ${JSON.stringify(a)}`);
    if (a.status === 503) assert.match(a.body, /database|PostgreSQL/, `the 503 says the database is unreachable: ${JSON.stringify(a)}`);
  }
  for (const server of servers) assert.equal(server.child.exitCode, null, `pid ${server.child.pid} kept running through the outage`);

  // Recovery, without a restart; each conductor said it could not heartbeat, and that it does again.
  await Promise.all(servers.map((s, i) => logged(s, /database connection to PostgreSQL at .* is back/, logsAtStop[i])));
  await Promise.all(servers.map((s, i) => logged(s, /conductor heartbeat failed: .*no conductor is judged dead for the outage/, logsAtStop[i])));
  await Promise.all(servers.map((s, i) => logged(s, /conductor heartbeats again; the others have 3 s to do the same/, logsAtStop[i])));
  for (const server of servers) await until('the health check is ok again', 60_000, async () => ((await health(server)).status === 200 ? true : undefined));
  // Heartbeats resume: every conductor beats past dead-after since the restart, all alive, every machine owned once.
  const since = new Date(startedAt + DEAD_AFTER_S * 1000).toISOString();
  const after = await until('every conductor heartbeats again', 120_000, async () => {
    const list = await conductors(servers[1]!);
    const alive = list.filter((c) => c.alive);
    return alive.length === 3 && alive.every((c) => c.heartbeatAt > since) ? list : undefined;
  });
  assert.deepEqual(after.map((c) => c.pid).sort(), servers.map((s) => s.child.pid).sort(), 'the same three conductors, none registered anew');
  assert.equal(
    after.reduce((sum, c) => sum + c.machines, 0),
    MACHINES,
  );
  // (Not "each owns some": the ring may give one of three conductors none of 12 machines, ~2 % of runs.)
  for (const [i, server] of servers.entries()) {
    const shrunk = logEntries(server, logsAtStop[i]).filter((e) => e.msg === 'the live conductors changed; machines re-shared by the hash ring');
    assert.deepEqual(shrunk, [], `pid ${server.child.pid} never judged the others dead for the outage`);
  }
  const held = await store.db.selectFrom('machines').select(['reservation', 'reservation_conductor']).where('name', '=', 'node-1').executeTakeFirstOrThrow();
  assert.deepEqual(held, { reservation: heldHolder, reservation_conductor: owner.id }, 'a live conductor’s lock was not taken for a dead one’s');

  // Requests succeed again on every server.
  const recovered = Date.now();
  await until('every server answers the load again', 120_000, async () =>
    servers.every((_, i) => answers.filter((a) => a.server === i && a.at > recovered).length >= 12) ? true : undefined,
  );
  loading = false;
  await Promise.all(loads);
  for (const a of answers.filter((x) => x.at > recovered)) assert.equal(a.status, 200, `after recovery every request succeeds: ${JSON.stringify(a)}`);
  assert.deepEqual(
    answers.filter((a) => a.status === 'hang' || a.status === 'reset'),
    [],
    'no request hung or lost its connection',
  );
  // No lock is left held by an operation the outage interrupted.
  await store.db.updateTable('machines').set({ reservation: null, reservation_conductor: null }).where('name', '=', 'node-1').execute();
  await until('no lock left held', 60_000, async () => {
    const rows = await store.db.selectFrom('machines').select(['name', 'reservation']).where('reservation', 'is not', null).execute();
    return rows.length === 0 ? true : undefined;
  });

  // Power sync covers the whole fleet again, each machine on exactly one conductor.
  const logsAtOn = servers.map((s) => s.logs().length);
  const on = await exec(ANVIL, ['ipmi', '-H', `127.0.0.[1-${MACHINES}]`, '-p', String(port), '-U', 'admin', '-E', 'power', 'on'], { IPMI_PASSWORD: PASSWORD });
  assert.equal(on.code, 0, on.stdout + on.stderr);
  await until('power sync recorded every machine on', 120_000, async () => ((await powerStates()).every((s) => s === 'on') ? true : undefined));
  const changedBy = await until('the logs to name every machine’s change', 60_000, async () => {
    const sets = servers.map((s, i) => synced(s, logsAtOn[i]));
    return sets.reduce((n, s) => n + s.size, 0) >= MACHINES ? sets : undefined;
  });
  const all = changedBy.flatMap((s) => [...s]);
  assert.equal(new Set(all).size, all.length, `no machine was synced by two conductors: ${changedBy.map((s) => [...s].join(' ')).join(' | ')}`);
  assert.equal(all.length, MACHINES, 'between them the conductors recorded every machine’s change');

  // Each process listens for the others' changes again: one made through server 0 reaches server 2's live feed.
  // Their polls look only every 600 s here, so it came by notification over the re-made connection.
  await Promise.all(servers.map((s, i) => logged(s, /hearing other anvil processes. changes from PostgreSQL at .* again/, logsAtStop[i])));
  const login = await fetch(`${servers[2]!.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, next: '/' }).toString(),
  });
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0] ?? '')
    .find((c) => c.startsWith('anvil_session='));
  assert.ok(cookie, `signing in on server 2 answered ${login.status}`);
  const stream = new AbortController();
  t.after(() => stream.abort());
  const feed = await fetch(`${servers[2]!.url}/events`, { headers: { cookie }, signal: AbortSignal.any([stream.signal, AbortSignal.timeout(HANG_MS)]) });
  assert.equal(feed.status, 200);
  const off = await fetch(`${servers[0]!.url}/api/v1/machines/node-11/power`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'off' }),
  });
  assert.equal(off.status, 200, await off.text());
  const reader = feed.body!.getReader();
  let text = '';
  while (!/"name":"node-11"[^\n]*"power":"off"/.test(text)) {
    const { value, done } = await reader.read();
    assert.ok(!done, `server 2's live feed ended before node-11's power change: ${text}`);
    text += new TextDecoder().decode(value);
  }
  stream.abort();

  for (const server of servers) assert.equal(server.child.exitCode, null, `pid ${server.child.pid} is still running`);
  const logs = servers.map((s) => s.logs()).join('\n');
  assert.doesNotMatch(logs, /unhandled|uncaught/i);
  assert.doesNotMatch(logs, new RegExp(cluster.password));
  assert.doesNotMatch(logs, new RegExp(PASSWORD));
});
