// Conductors over the test backend (SQLite or PostgreSQL), two or three in one process with a
// clock of the test's: registration, the ring's shares, death by missed heartbeats, the
// takeover of a dead conductor's machines and locks, and `ownsAll` on SQLite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testStore } from '../../test/helpers/database.ts';
import { Conductors, conductorFromEnv } from './conductors.ts';
import { MachineLocks } from './locks.ts';

function clock() {
  let now = Date.parse('2026-01-01T00:00:00Z');
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

async function addMachines(db: Awaited<ReturnType<typeof testStore>>['db'], n: number) {
  const at = new Date().toISOString();
  const rows = Array.from({ length: n }, (_, i) => ({ name: `node-${i}`, driver: 'fake', created_at: at, updated_at: at }));
  await db.insertInto('machines').values(rows).execute();
}

test('live conductors share the machines, each owned by exactly one; a dead one’s go to the survivors', async (t) => {
  const store = await testStore(t);
  await addMachines(store.db, 300);
  const time = clock();
  const options = { heartbeatMs: 1_000 };
  const all = [new Conductors(store.db, time.now, options), new Conductors(store.db, time.now, options), new Conductors(store.db, time.now, options)];
  for (const c of all) await c.register();
  for (const c of all) await c.refresh();
  const names = Array.from({ length: 300 }, (_, i) => `node-${i}`);
  const owners = (cs: Conductors[]) => names.map((n) => cs.filter((c) => c.owns(n)).map((c) => c.id));
  assert.ok(
    owners(all).every((o) => o.length === 1),
    'every machine has exactly one owner',
  );
  const listed = await all[0]!.list();
  assert.equal(listed.length, 3);
  assert.ok(listed.every((c) => c.alive && c.machines > 50));
  assert.equal(
    listed.reduce((sum, c) => sum + c.machines, 0),
    300,
  );

  // The third stops heartbeating: after the timeout (3 heartbeats) it is dead, and the others own everything.
  const [a, b, dead] = all as [Conductors, Conductors, Conductors];
  const theirs = names.filter((n) => dead.owns(n));
  const kept = new Map(names.filter((n) => !dead.owns(n)).map((n) => [n, a.owns(n) ? a.id : b.id]));
  time.advance(2_000);
  await a.heartbeat();
  await b.heartbeat();
  assert.equal(await a.isDead(dead.id!), false, 'two heartbeats missed is not yet dead');
  time.advance(1_500);
  await a.heartbeat();
  await b.heartbeat();
  assert.equal(await a.isDead(dead.id!), true);
  const after = owners([a, b]);
  assert.ok(
    after.every((o) => o.length === 1),
    'the survivors own every machine, each exactly once',
  );
  for (const [n, owner] of kept) assert.equal(a.owns(n) ? a.id : b.id, owner, `${n} stayed with its owner`);
  assert.ok(theirs.length > 0);
  const view = await a.list();
  // Listed by start time, then id: all three started at the same instant of the test's clock.
  const byId = (x: [string | undefined, boolean], y: [string | undefined, boolean]) => String(x[0]).localeCompare(String(y[0]));
  assert.deepEqual(
    view.map((c): [string | undefined, boolean] => [c.id, c.alive]),
    all.map((c): [string | undefined, boolean] => [c.id, c !== dead]).sort(byId),
  );
  assert.equal(view.find((c) => c.id === dead.id)?.machines, 0);
  assert.equal(view.find((c) => c.id === dead.id)?.heartbeatAgeMs, 3_500);

  // A dead conductor's row is kept for the list a day, then forgotten at a heartbeat.
  time.advance(24 * 3_600_000);
  await a.heartbeat();
  await b.heartbeat();
  assert.deepEqual((await a.list()).map((c) => c.id).sort(), [a.id, b.id].sort());
  assert.equal(await a.isDead(dead.id!), true);

  // A clean stop removes the row at once: no waiting for the timeout.
  await b.stop();
  await a.refresh();
  assert.ok(names.every((n) => a.owns(n)));
  assert.equal(b.owns('node-1'), false);
});

test("a dead conductor's locks are taken over by acquire and released by clearStale; a live one's are not", async (t) => {
  const store = await testStore(t);
  await addMachines(store.db, 3);
  const time = clock();
  const mine = new Conductors(store.db, time.now, { heartbeatMs: 1_000 });
  const other = new Conductors(store.db, time.now, { heartbeatMs: 1_000 });
  await mine.register();
  await other.register();
  const ids = Object.fromEntries((await store.db.selectFrom('machines').select(['id', 'name']).execute()).map((r) => [r.name, r.id!]));
  const theirLocks = new MachineLocks(store.db, undefined, other);
  const holder = 'anvil serve (pid 1 on elsewhere): power on (api)';
  for (const name of ['node-0', 'node-1']) await theirLocks.acquire({ id: ids[name]!, name }, holder);
  const held = await store.db.selectFrom('machines').select(['name', 'reservation_conductor']).where('reservation', 'is not', null).orderBy('name').execute();
  assert.deepEqual(held, [
    { name: 'node-0', reservation_conductor: other.id },
    { name: 'node-1', reservation_conductor: other.id },
  ]);
  const told: string[] = [];
  const locks = new MachineLocks(store.db, async (m, h) => void told.push(`${m.name}: ${h}`), mine);
  await assert.rejects(locks.acquire({ id: ids['node-0']!, name: 'node-0' }, 'me'), { code: 'MACHINE_LOCKED' });
  assert.deepEqual(await locks.clearStale(), []);

  time.advance(3_001);
  await mine.heartbeat();
  await locks.acquire({ id: ids['node-0']!, name: 'node-0' }, 'me');
  assert.deepEqual(await locks.clearStale(), [{ name: 'node-1', holder }]);
  assert.deepEqual(told, [`node-0: ${holder}`, `node-1: ${holder}`]);
  const rows = await store.db.selectFrom('machines').select(['name', 'reservation', 'reservation_conductor']).orderBy('name').execute();
  assert.deepEqual(rows, [
    { name: 'node-0', reservation: 'me', reservation_conductor: mine.id },
    { name: 'node-1', reservation: null, reservation_conductor: null },
    { name: 'node-2', reservation: null, reservation_conductor: null },
  ]);
  await locks.release({ id: ids['node-0']! }, 'me');
  assert.equal(
    (await store.db.selectFrom('machines').select('reservation_conductor').where('name', '=', 'node-0').executeTakeFirstOrThrow()).reservation_conductor,
    null,
  );
});

/** The database as a conductor sees it, with a switch that makes every update fail as if the server were away. */
function breakable<T extends object>(db: T): { db: T; down: (yes: boolean) => void } {
  let away = false;
  const proxy = new Proxy(db, {
    get(target, prop) {
      if (away && prop === 'updateTable')
        return () => {
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        };
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: proxy, down: (yes) => void (away = yes) };
}

test('after the database was away, a conductor judges the others by what it saw before for one dead-after period', async (t) => {
  const store = await testStore(t);
  await addMachines(store.db, 30);
  const time = clock();
  const link = breakable(store.db);
  const mine = new Conductors(link.db, time.now, { heartbeatMs: 1_000 });
  const other = new Conductors(store.db, time.now, { heartbeatMs: 1_000 });
  const fresh = new Conductors(store.db, time.now, { heartbeatMs: 1_000 });
  await mine.register();
  await other.register();
  const ids = Object.fromEntries((await store.db.selectFrom('machines').select(['id', 'name']).execute()).map((r) => [r.name, r.id!]));
  await new MachineLocks(store.db, undefined, other).acquire({ id: ids['node-0']!, name: 'node-0' }, 'anvil serve (pid 1 on elsewhere): power on (api)');
  const locks = new MachineLocks(link.db, undefined, mine);

  // Away for five seconds, longer than dead-after (3 s): neither could heartbeat.
  link.down(true);
  for (let s = 0; s < 5; s++) {
    time.advance(1_000);
    await assert.rejects(mine.heartbeat(), /ECONNREFUSED/);
    assert.equal(mine.unreachable, true);
  }
  link.down(false);
  time.advance(1_000);
  await mine.heartbeat();
  assert.equal(mine.unreachable, false);
  assert.deepEqual(mine.ring.members.toSorted(), [mine.id, other.id].toSorted(), 'the other is still a member');
  assert.equal(await mine.isDead(other.id!), false);
  assert.deepEqual(await locks.clearStale(), [], 'its lock is still its own');
  assert.ok((await mine.list()).every((c) => c.alive));
  // Without the outage behind it the same heartbeat is dead: the grace is the outage's only.
  await fresh.register();
  assert.equal(await fresh.isDead(other.id!), true);

  // The other never comes back: dead at the end of the period.
  time.advance(3_001);
  await fresh.heartbeat();
  await mine.heartbeat();
  assert.equal(await mine.isDead(other.id!), true);
  assert.deepEqual(mine.ring.members.toSorted(), [mine.id, fresh.id].toSorted());
  assert.equal((await locks.clearStale()).length, 1);
});

test('a lock whose release failed while the database was away is released at the next clearStale', async (t) => {
  const store = await testStore(t);
  await addMachines(store.db, 1);
  const time = clock();
  const link = breakable(store.db);
  const mine = new Conductors(store.db, time.now, { heartbeatMs: 1_000 });
  await mine.register();
  const locks = new MachineLocks(link.db, undefined, mine);
  const id = (await store.db.selectFrom('machines').select('id').executeTakeFirstOrThrow()).id!;
  await locks.acquire({ id, name: 'node-0' }, 'me');
  link.down(true);
  await assert.rejects(locks.release({ id }, 'me'), /ECONNREFUSED/);
  assert.equal(locks.unreleased, 1);
  await assert.rejects(locks.clearStale(), /ECONNREFUSED/);
  link.down(false);
  assert.deepEqual(await locks.clearStale(), []);
  assert.equal(locks.unreleased, 0);
  const row = await store.db.selectFrom('machines').select('reservation').where('id', '=', id).executeTakeFirstOrThrow();
  assert.equal(row.reservation, null);
});

test('with ownsAll (SQLite) the one conductor owns every machine and the list says so', async (t) => {
  const store = await testStore(t);
  await addMachines(store.db, 5);
  const only = new Conductors(store.db, clock().now, { ownsAll: true });
  await only.register();
  assert.ok(['node-0', 'node-4', 'unknown'].every((n) => only.owns(n)));
  const [row] = await only.list();
  assert.equal(row?.machines, 5);
  assert.equal(row?.alive, true);
});

test('conductor settings: from the environment in seconds; nonsense is an error naming the variable', () => {
  assert.deepEqual(conductorFromEnv({}), {});
  assert.deepEqual(conductorFromEnv({ ANVIL_CONDUCTOR_HEARTBEAT: '2', ANVIL_CONDUCTOR_DEAD_AFTER: '5.5' }), { heartbeatMs: 2000, deadAfterMs: 5500 });
  assert.throws(() => conductorFromEnv({ ANVIL_CONDUCTOR_HEARTBEAT: 'soon' }), /ANVIL_CONDUCTOR_HEARTBEAT='soon'/);
  assert.throws(() => new Conductors({} as never, clock().now, { heartbeatMs: 1000, deadAfterMs: 500 }), RangeError);
});
