import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { testStore } from '../../test/helpers/database.ts';
import { isStaleHolder, MachineLockedError, MachineLocks } from './locks.ts';

/** The pid of a process that has exited (and been reaped), so it names nobody. */
function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

test('a lock held by a dead process on this host is stale; a live one, this process and other hosts are not', (t) => {
  const live = spawn('sleep', ['30']);
  t.after(() => live.kill());
  assert.equal(isStaleHolder(`anvil machine (pid ${deadPid()} on ${hostname()}): power on (alice)`), true);
  assert.equal(isStaleHolder(`anvil machine (pid ${live.pid} on ${hostname()}): power on (alice)`), false);
  assert.equal(isStaleHolder(`anvil serve (pid ${process.pid} on ${hostname()}): power off (api)`), false);
  assert.equal(isStaleHolder(`anvil machine (pid ${deadPid()} on another-host): power on (alice)`), false);
  assert.equal(isStaleHolder('someone'), false);
});

test("acquire takes over a dead process's lock and says so; clearStale releases only dead ones", async (t) => {
  const store = await testStore(t);
  const live = spawn('sleep', ['30']);
  t.after(() => live.kill());
  const now = new Date().toISOString();
  const dead = `anvil machine (pid ${deadPid()} on ${hostname()}): power on (alice)`;
  const alive = `anvil machine (pid ${live.pid} on ${hostname()}): power off (bob)`;
  const remote = `anvil serve (pid 1 on elsewhere): power on (api)`;
  for (const [name, reservation] of [
    ['a', dead],
    ['b', alive],
    ['c', remote],
    ['d', dead],
  ] as const) {
    await store.db.insertInto('machines').values({ name, reservation, created_at: now, updated_at: now }).execute();
  }
  const ids = Object.fromEntries((await store.db.selectFrom('machines').select(['id', 'name']).execute()).map((r) => [r.name, r.id]));
  const told: string[] = [];
  const locks = new MachineLocks(store.db, async (machine, holder) => {
    told.push(`${machine.name}: ${holder}`);
  });

  await locks.acquire({ id: ids.a!, name: 'a' }, 'me');
  assert.deepEqual(told, [`a: ${dead}`]);
  await assert.rejects(locks.acquire({ id: ids.b!, name: 'b' }, 'me'), (error: unknown) => error instanceof MachineLockedError && error.holder === alive);
  await assert.rejects(locks.acquire({ id: ids.c!, name: 'c' }, 'me'), MachineLockedError);

  assert.deepEqual(await locks.clearStale(), [{ name: 'd', holder: dead }]);
  const rows = Object.fromEntries((await store.db.selectFrom('machines').select(['name', 'reservation']).execute()).map((r) => [r.name, r.reservation]));
  assert.deepEqual(rows, { a: 'me', b: alive, c: remote, d: null });
});
