// Three `anvil serve` processes on one PostgreSQL database and a fleet of emulated BMCs
// (`anvil bmc fake --count`): every machine is owned by exactly one live conductor and power
// sync covers the fleet; after a kill -9 of one process, the survivors own its machines, the
// locks it held are released, and their power sync covers all of them again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANVIL, exec, startServer, type ServerProcess } from '../helpers/anvil-process.ts';
import { freshDatabase, havePostgres } from '../helpers/postgres.ts';
import { enrolCluster, startBmcFleet, synced, until } from '../helpers/cluster.ts';
import { openStore } from '../../src/store/store.ts';

const MACHINES = 30;
const PASSWORD = 'cluster-bmc-pw';
/** Seconds: heartbeat every 1 s, dead after 3 s; power sync every second. */
const HEARTBEAT_S = 1;
const DEAD_AFTER_S = 3;

interface ConductorView {
  id: string;
  pid: number;
  alive: boolean;
  machines: number;
}

test('three conductors share a fleet; a kill -9 leaves its machines owned by the survivors and its locks released', { timeout: 600_000 }, async (t) => {
  if (!havePostgres(t)) return;
  const url = await freshDatabase();
  const { port } = await startBmcFleet(t, { count: MACHINES, password: PASSWORD, last: `127.0.0.${MACHINES}` });
  // The fleet enrolled as the CLI would; the other data directories get the same secret.key.
  const dirs = await enrolCluster(url, {
    count: MACHINES,
    port,
    password: PASSWORD,
    mac: (i) => `52:54:00:00:10:${i.toString(16).padStart(2, '0')}`,
    address: (i) => `127.0.0.${i}`,
  });

  // The servers take the database and the timings from the environment (a URL with a password never goes on a command line).
  const settings = {
    ANVIL_DATABASE_URL: url,
    ANVIL_CONDUCTOR_HEARTBEAT: String(HEARTBEAT_S),
    ANVIL_CONDUCTOR_DEAD_AFTER: String(DEAD_AFTER_S),
    ANVIL_POWER_SYNC_INTERVAL: '1',
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
  const token = (await exec(ANVIL, ['token', 'create', '--role', 'viewer', '--data', dirs[0]!])).stdout.trim();
  const conductors = async (server: ServerProcess) => {
    const res = await fetch(`${server.url}/api/v1/conductors`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { conductors: ConductorView[] }).conductors;
  };
  const powerStates = async () => (await store.db.selectFrom('machines').select(['name', 'power_state']).execute()).map((m) => m.power_state);

  // All three alive, every machine owned by exactly one of them, and power sync has read every BMC (they start off).
  const listed = await until('three live conductors', 60_000, async () => {
    const list = await conductors(servers[0]!);
    return list.filter((c) => c.alive).length === 3 ? list : undefined;
  });
  assert.equal(
    listed.reduce((sum, c) => sum + c.machines, 0),
    MACHINES,
  );
  assert.ok(
    listed.every((c) => c.machines > 0),
    `each owns a share: ${listed.map((c) => c.machines).join(', ')}`,
  );
  await until('power sync recorded every machine off', 120_000, async () => ((await powerStates()).every((s) => s === 'off') ? true : undefined));

  // The victim holds two locks as if an operation were in flight when it dies.
  const victim = servers[2]!;
  const victimConductor = listed.find((c) => c.pid === victim.child.pid);
  assert.ok(victimConductor, 'the API names the victim’s conductor by its pid');
  const held = ['node-1', 'node-2'];
  await store.db
    .updateTable('machines')
    .set({ reservation: `anvil serve (pid ${victim.child.pid} on elsewhere): power on (api)`, reservation_conductor: victimConductor.id })
    .where('name', 'in', held)
    .execute();
  const logsAtKill = servers.map((server) => server.logs().length);
  const killedAt = Date.now();
  victim.child.kill('SIGKILL');
  await new Promise((resolve) => victim.child.once('exit', resolve));

  // Within the takeover time the survivors own every machine and the dead one's locks are gone.
  const after = await until('the survivors own every machine', 60_000, async () => {
    const list = await conductors(servers[0]!);
    const alive = list.filter((c) => c.alive);
    return alive.length === 2 && alive.reduce((sum, c) => sum + c.machines, 0) === MACHINES ? list : undefined;
  });
  // A figure, not an assertion (the machine may be loaded): dead after 3 s, then the next heartbeat.
  t.diagnostic(
    `the API listed the survivors as owning every machine ${Date.now() - killedAt} ms after the kill (dead after ${DEAD_AFTER_S} s, heartbeat ${HEARTBEAT_S} s)`,
  );
  assert.equal(after.find((c) => c.id === victimConductor.id)?.alive, false, 'the killed conductor is listed dead');
  assert.equal(after.find((c) => c.id === victimConductor.id)?.machines, 0);
  await until('the dead conductor’s locks released', 60_000, async () => {
    const rows = await store.db.selectFrom('machines').select('reservation').where('name', 'in', held).execute();
    return rows.every((r) => r.reservation === null) ? true : undefined;
  });
  t.diagnostic(`its locks were released ${Date.now() - killedAt} ms after the kill`);
  // The event is written just after its lock is cleared, so the second may trail the check above.
  const lockEvents = () =>
    store.db
      .selectFrom('machine_events')
      .innerJoin('machines', 'machines.id', 'machine_events.machine_id')
      .select(['machines.name', 'machine_events.message'])
      .where('machines.name', 'in', held)
      .where('machine_events.kind', '=', 'lock')
      .execute();
  const events = await until('each released lock’s event', 30_000, async () => {
    const rows = await lockEvents();
    return rows.length >= 2 ? rows : undefined;
  }).catch(() => lockEvents());
  assert.equal(events.length, 2, 'each released lock left an event');

  // The survivors' power sync covers the whole fleet, the dead one's share included.
  const on = await exec(ANVIL, ['ipmi', '-H', `127.0.0.[1-${MACHINES}]`, '-p', String(port), '-U', 'admin', '-E', 'power', 'on'], { IPMI_PASSWORD: PASSWORD });
  assert.equal(on.code, 0, on.stdout + on.stderr);
  await until('power sync recorded every machine on', 120_000, async () => ((await powerStates()).every((s) => s === 'on') ? true : undefined));
  // Each survivor synced only its own share: no machine's change was recorded by both, and between them all of them.
  // The log lines may trail the database (pino writes asynchronously): wait for them.
  const changedBy = await until('the survivors’ logs to name every machine’s change', 60_000, async () => {
    const sets = servers.slice(0, 2).map((server, i) => synced(server, logsAtKill[i]));
    return sets[0]!.size + sets[1]!.size >= MACHINES ? sets : undefined;
  });
  const both = [...changedBy[0]!].filter((name) => changedBy[1]!.has(name));
  assert.deepEqual(both, [], 'no machine was synced by both survivors');
  assert.equal(changedBy[0]!.size + changedBy[1]!.size, MACHINES, 'between them the survivors recorded every machine’s change');
  for (const server of servers.slice(0, 2)) assert.equal(server.child.exitCode, null, 'the survivors keep running');
  assert.doesNotMatch(servers[0]!.logs() + servers[1]!.logs(), new RegExp(PASSWORD));
});
