// Work on the owner conductor (src/conductor/work.ts): two `anvil serve` service graphs in
// this process on one PostgreSQL database, each with its own fake hardware, so which process
// reached the "controller" shows. A power change asked of the non-owner runs on the owner,
// exactly once, and answers as it would have there; a dead conductor's queued work is taken
// by the survivor, its running work is reported interrupted and not run again; the deploy
// deadline check of a non-owner leaves the machine alone. On SQLite nothing is queued.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { testAnvil, type TestAnvil } from '../helpers/anvil-inproc.ts';
import { freshDatabase, havePostgres } from '../helpers/postgres.ts';
import { testBackend } from '../helpers/database.ts';
import { fakeAgentBuild } from '../helpers/agent-server.ts';

/** A dead-after long enough that a loaded machine's stalls never make a live one look dead; the test's dead conductor dies by an old heartbeat. */
const CONDUCTOR = { heartbeatMs: 500, deadAfterMs: 15_000 };
const MACHINES = 24;

/** Polls `check` until it returns a value (not undefined), or fails after `ms` saying what it waited for. */
async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function pair(t: Parameters<typeof testAnvil>[0]): Promise<{ a: TestAnvil; b: TestAnvil; url: string }> {
  const url = await freshDatabase();
  const agentBuild = fakeAgentBuild();
  const a = await testAnvil(t, { databaseUrl: url, powerSync: false, conductor: CONDUCTOR, agentBuild });
  for (let i = 1; i <= MACHINES; i++) {
    await a.services.machines.add(`w-${i}`, [`52:54:00:00:20:${i.toString(16).padStart(2, '0')}`]);
    // A sealed field makes a's secret.key, which b is given.
    await a.services.control.configure(`w-${i}`, { driver: 'fake', driverInfo: { fake_password: `pw-${i}` } });
  }
  // One cluster, one secret.key: what one process seals (agent tokens, BMC passwords) the other opens.
  const b = await testAnvil(
    t,
    { databaseUrl: url, powerSync: false, conductor: CONDUCTOR, agentBuild },
    { prepare: (data) => copyFileSync(a.services.paths.secretKey, join(data, 'secret.key')) },
  );
  await until('both conductors see each other', 60_000, async () => ([a, b].every((x) => x.services.conductors.ring.members.length === 2) ? true : undefined));
  return { a, b, url };
}

/**
 * A third conductor that heartbeats (from here) but never claims, so the machines it owns
 * wait for it; kill() makes its heartbeat an hour old, so the others find it dead at their next one.
 */
async function ghostConductor(t: { after(fn: () => unknown): void }, a: TestAnvil, b: TestAnvil) {
  const db = a.services.store.db;
  const id = 'ghost:1:000000';
  const beat = async () => {
    await db.updateTable('conductors').set({ heartbeat_at: new Date().toISOString() }).where('id', '=', id).execute();
  };
  const at = new Date().toISOString();
  await db.insertInto('conductors').values({ id, hostname: 'ghost', pid: 1, started_at: at, heartbeat_at: at }).execute();
  let lastBeat = Promise.resolve();
  const beating = setInterval(() => (lastBeat = beat()), 100);
  t.after(() => clearInterval(beating));
  await until('both see the third conductor', 60_000, async () => ([a, b].every((x) => x.services.conductors.ring.members.includes(id)) ? true : undefined));
  const machines = names.filter((n) => a.services.conductors.ownerOf(n) === id && b.services.conductors.ownerOf(n) === id);
  assert.ok(machines.length >= 2, `the third conductor owns some machines (${machines.length})`);
  return {
    id,
    machines,
    kill: async () => {
      clearInterval(beating);
      await lastBeat;
      await db
        .updateTable('conductors')
        .set({ heartbeat_at: new Date(Date.now() - 3_600_000).toISOString() })
        .where('id', '=', id)
        .execute();
    },
  };
}

const fakeOf = (anvil: TestAnvil, name: string) => anvil.services.control.types.fake.machine(name);
const names = Array.from({ length: MACHINES }, (_, i) => `w-${i + 1}`);

test('a power change asked of the non-owner runs on the owner, exactly once, with the same answer', { timeout: 300_000 }, async (t) => {
  if (!havePostgres(t)) return;
  const { a, b } = await pair(t);
  const db = a.services.store.db;
  const ofA = names.find((n) => a.services.conductors.owns(n) && !b.services.conductors.owns(n));
  const ofB = names.find((n) => b.services.conductors.owns(n) && !a.services.conductors.owns(n));
  assert.ok(ofA && ofB, 'each owns some of the machines');

  const res = await b.api(`/api/v1/machines/${ofA}/power`, { method: 'PUT', json: { target: 'on' } });
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), { name: ofA, powerState: 'on' });
  const rows = await db.selectFrom('work_items').selectAll().where('machine_name', '=', ofA).execute();
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.state, 'done');
  assert.equal(rows[0]!.conductor, a.services.conductors.id, 'the owner ran it');
  assert.equal(rows[0]!.requested_conductor, b.services.conductors.id);
  assert.match(rows[0]!.requested_by, /operator 'test'/);
  assert.deepEqual(fakeOf(a, ofA).boots, ['default'], 'the owner’s controller was asked once');
  assert.deepEqual(fakeOf(b, ofA).boots, [], 'the non-owner never reached the controller');
  assert.equal((await db.selectFrom('machines').select('power_state').where('name', '=', ofA).executeTakeFirstOrThrow()).power_state, 'on');

  // The owner asked directly runs it inline: no row.
  assert.equal((await b.api(`/api/v1/machines/${ofB}/power`, { method: 'PUT', json: { target: 'on' } })).status, 200);
  assert.equal((await db.selectFrom('work_items').select('id').where('machine_name', '=', ofB).execute()).length, 0);

  // Boot device, by MAC, through the other one; an error answers as it would on the owner.
  const mac = (await a.services.machines.macsOf((await a.services.machines.find(ofB)).id))[0]!;
  const boot = await a.api(`/api/v1/machines/${mac}/boot-device`, { method: 'PUT', json: { device: 'pxe', persistent: true } });
  assert.equal(boot.status, 200, await boot.clone().text());
  assert.deepEqual(await boot.json(), { name: ofB, device: 'pxe', persistent: true, uefi: false });
  assert.equal(fakeOf(b, ofB).bootDevice, 'pxe');
  assert.equal(fakeOf(a, ofB).bootDevice, null);
  fakeOf(b, ofB).unreachable = true;
  const failed = await a.api(`/api/v1/machines/${ofB}/power`, { method: 'PUT', json: { target: 'off' } });
  const direct = await b.api(`/api/v1/machines/${ofB}/power`, { method: 'PUT', json: { target: 'off' } });
  assert.equal(failed.status, direct.status, 'the same status from either process');
  const codeOf = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;
  const code = await codeOf(failed);
  assert.equal(code, await codeOf(direct));
  assert.equal(code, 'CONTROLLER_UNREACHABLE', 'the driver’s own error, carried back from the owner');
  const last = await db.selectFrom('work_items').selectAll().where('machine_name', '=', ofB).orderBy('id', 'desc').executeTakeFirstOrThrow();
  assert.equal(last.state, 'failed');
  assert.equal(last.conductor, b.services.conductors.id);
});

test('a dead conductor’s queued work is taken by the survivors; its running work is interrupted, never run again', { timeout: 300_000 }, async (t) => {
  if (!havePostgres(t)) return;
  const { a, b } = await pair(t);
  const db = a.services.store.db;
  const ghostly = await ghostConductor(t, a, b);
  const ghost = ghostly.id;
  const [queued, running] = ghostly.machines as [string, string];

  // Asked of b while its owner is alive but idle: queued, and neither claims it.
  const asked = b.api(`/api/v1/machines/${queued}/power`, { method: 'PUT', json: { target: 'on' } });
  const row = await until('the request is queued', 60_000, async () =>
    db.selectFrom('work_items').selectAll().where('machine_name', '=', queued).executeTakeFirst(),
  );
  assert.equal(row.state, 'queued');
  assert.equal(await a.services.work.claim(), 0, 'a does not claim a machine it does not own');
  assert.equal(await b.services.work.claim(), 0, 'nor does b');
  // Work the third conductor had claimed and was running when it died.
  const at = new Date().toISOString();
  const { id: runningId } = await db
    .insertInto('work_items')
    .values({
      machine_name: running,
      kind: 'power',
      args: JSON.stringify({ target: 'on', timeoutMs: 60_000 }),
      state: 'running',
      requested_by: 'test',
      conductor: ghost,
      created_at: at,
      started_at: at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();

  // It dies: its heartbeat is long past.
  await ghostly.kill();
  const answer = await asked;
  assert.equal(answer.status, 200, await answer.clone().text());
  assert.deepEqual(await answer.json(), { name: queued, powerState: 'on' });
  const done = await db.selectFrom('work_items').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
  assert.equal(done.state, 'done');
  const owner = [a, b].find((x) => x.services.conductors.id === done.conductor);
  assert.ok(owner, `a survivor ran it (${done.conductor})`);
  assert.deepEqual(fakeOf(owner, queued).boots, ['default'], 'once, on the survivor that owns it now');
  assert.equal(fakeOf(owner === a ? b : a, queued).boots.length, 0);

  const interrupted = await until('the running work is interrupted', 60_000, async () => {
    const r = await db.selectFrom('work_items').selectAll().where('id', '=', runningId).executeTakeFirstOrThrow();
    return r.state === 'running' ? undefined : r;
  });
  assert.equal(interrupted.state, 'interrupted');
  assert.equal(interrupted.conductor, ghost);
  assert.match(interrupted.error ?? '', new RegExp(`conductor ${ghost} stopped heartbeating`));
  assert.equal(interrupted.error_code, 'WORK_INTERRUPTED');
  assert.equal(fakeOf(a, running).boots.length + fakeOf(b, running).boots.length, 0, 'an interrupted operation is not run again');
});

test('the deadline check of a conductor that does not own the machine leaves it alone', { timeout: 300_000 }, async (t) => {
  if (!havePostgres(t)) return;
  const { a, b } = await pair(t);
  const db = a.services.store.db;
  const name = names.find((n) => a.services.conductors.owns(n) && !b.services.conductors.owns(n))!;
  const machine = await a.services.machines.find(name);
  const deployment = await a.services.provisioner.deployments.create({
    machineId: machine.id,
    kind: 'deploy',
    imageId: null,
    imageName: 'gone',
    requestedBy: 'test',
    timeoutS: 60,
    bytesTotal: 0,
  });
  const long = new Date(Date.now() - 3_600_000).toISOString();
  await db.updateTable('deployments').set({ state: 'wait-callback', created_at: long, updated_at: long }).where('id', '=', deployment.id).execute();
  await db.updateTable('machines').set({ provision_state: 'wait-callback' }).where('id', '=', machine.id).execute();

  assert.deepEqual(await b.services.provisioner.expire(), [], 'not its machine');
  assert.equal((await a.services.machines.find(name)).provision_state, 'wait-callback');
  assert.equal((await a.services.provisioner.deployments.get(deployment.id))?.state, 'wait-callback');
  assert.deepEqual(await a.services.provisioner.expire(), [name], 'its owner fails it');
  assert.equal((await a.services.provisioner.deployments.get(deployment.id))?.state, 'failed');
});

test('a deploy asked of the non-owner boots the agent on the owner; the boot from disk after the agent’s result is handed to the owner', {
  timeout: 300_000,
}, async (t) => {
  if (!havePostgres(t)) return;
  const { a, b } = await pair(t);
  const db = a.services.store.db;
  const name = names.find((n) => a.services.conductors.owns(n) && !b.services.conductors.owns(n))!;
  const machine = await a.services.machines.find(name);
  const mac = (await a.services.machines.macsOf(machine.id))[0]!;
  const disk = randomBytes(64 * 1024);
  const sha = createHash('sha256').update(disk).digest('hex');
  const up = await a.api(`/api/v1/images/img-1?sha256=${sha}`, { method: 'PUT', body: new Uint8Array(disk) });
  assert.equal(up.status, 201, await up.clone().text());

  const r = await b.api(`/api/v1/machines/${name}/provision`, { method: 'PUT', json: { target: 'deploy', image: 'img-1' } });
  assert.equal(r.status, 202, await r.clone().text());
  assert.equal(((await r.json()) as { provisionState: string }).provisionState, 'wait-callback');
  const start = await db.selectFrom('work_items').selectAll().where('machine_name', '=', name).where('kind', '=', 'deploy').executeTakeFirstOrThrow();
  assert.deepEqual([start.state, start.conductor], ['done', a.services.conductors.id]);
  assert.deepEqual(fakeOf(a, name).boots, ['pxe'], 'the owner booted the agent');
  assert.deepEqual(fakeOf(b, name).boots, []);

  // The agent talks to b (any process answers it).
  const script = await (await fetch(`${b.url}/boot/${mac}`)).text();
  const token = /anvil\.token=(\S+)/.exec(script)?.[1];
  assert.ok(token, script);
  const call = async (path: string, body: string) => {
    const res = await fetch(`${b.url}/agent/v1/${path}`, { method: 'POST', headers: { 'x-anvil-token': token }, body });
    return { status: res.status, text: await res.text() };
  };
  const hello = await call('hello', `mac=${mac}\ndisk=vda\ndisk.vda.size=${64 << 20}\n`);
  assert.equal(hello.status, 200, hello.text);
  assert.match(hello.text, /^action=deploy$/m);
  const result = await call('result', `status=ok\nphase=done\nsha256=${sha}\nbytes=${disk.length}\n`);
  assert.equal(result.text.trim(), 'action=wait');
  const active = await until('the machine is active', 120_000, async () => {
    const m = await a.services.machines.find(name);
    return m.provision_state === 'active' ? m : undefined;
  });
  assert.equal(active.image_name, 'img-1');
  // The owner marks its work item done once the work returns, a moment after the machine row says active.
  const finish = await until('the finish work item is done', 60_000, async () => {
    const item = await db.selectFrom('work_items').selectAll().where('machine_name', '=', name).where('kind', '=', 'finish').executeTakeFirst();
    return item?.state === 'done' ? item : undefined;
  });
  assert.deepEqual([finish.conductor, finish.requested_conductor], [a.services.conductors.id, b.services.conductors.id]);
  assert.deepEqual(fakeOf(a, name).boots, ['pxe', 'disk'], 'the owner power-cycled it into its disk');
  assert.deepEqual(fakeOf(b, name).boots, [], 'b never reached the controller');
});

test('a dead conductor’s machine left starting a deploy is failed by its new owner, naming the dead one', { timeout: 300_000 }, async (t) => {
  if (!havePostgres(t)) return;
  const { a, b } = await pair(t);
  const ghost = await ghostConductor(t, a, b);
  const name = ghost.machines[0]!;
  const machine = await a.services.machines.find(name);
  const deployment = await a.services.provisioner.deployments.create({
    machineId: machine.id,
    kind: 'deploy',
    imageId: null,
    imageName: 'img-x',
    requestedBy: 'test',
    timeoutS: 3600,
    bytesTotal: 0,
  });
  await a.services.store.db.updateTable('machines').set({ provision_state: 'deploying' }).where('id', '=', machine.id).execute();
  await ghost.kill();
  const failed = await until('the new owner fails the deploy', 60_000, async () => {
    const m = await a.services.machines.find(name);
    return m.provision_state === 'deploy-failed' ? m : undefined;
  });
  assert.match(failed.provision_error ?? '', new RegExp(`conductor ${ghost.id} stopped while starting the deploy`));
  assert.equal((await a.services.provisioner.deployments.get(deployment.id))?.state, 'failed');
});

test('on SQLite one process owns every machine: power runs inline and nothing is queued', { timeout: 300_000 }, async (t) => {
  if (testBackend() !== 'sqlite') return t.skip('the SQLite case');
  const anvil = await testAnvil(t, { powerSync: false });
  await anvil.services.machines.add('s-1', ['52:54:00:00:21:01']);
  await anvil.services.control.configure('s-1', { driver: 'fake' });
  const res = await anvil.api('/api/v1/machines/s-1/power', { method: 'PUT', json: { target: 'on' } });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { name: 's-1', powerState: 'on' });
  assert.equal((await anvil.services.store.db.selectFrom('work_items').select('id').execute()).length, 0);
});
