import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../store/store.ts';
import { testStore } from '../../test/helpers/database.ts';
import { Machines } from '../machines/machines.ts';
import { HardwareTypes } from '../drivers/registry.ts';
import { SecretBox } from '../drivers/secrets.ts';
import type { DriverState } from '../drivers/types.ts';
import { MachineLockedError, MachineLocks } from './locks.ts';
import { ExclusiveLockRequiredError, TaskManager } from './task.ts';

async function setUp(t: { after(fn: () => unknown): void }) {
  const store = await testStore(t);
  const machines = new Machines(store.db, systemClock);
  const { machine } = await machines.add('t1', ['52:54:00:7a:00:01']);
  await store.db.updateTable('machines').set({ driver: 'fake', driver_internal_info: '{"kept":1}' }).where('id', '=', machine.id).execute();
  const types = new HardwareTypes();
  const tasks = new TaskManager({
    db: store.db,
    machines,
    locks: new MachineLocks(store.db),
    types,
    secrets: new SecretBox(join(mkdtempSync(join(tmpdir(), 'anvil-task-')), 'secret.key')),
    process: 'test',
  });
  return { store, tasks, types };
}

test('an exclusive task reserves the machine until it ends, however it ends; another exclusive task is refused naming the holder', async (t) => {
  const { store, tasks } = await setUp(t);
  const reservation = async () => (await store.db.selectFrom('machines').select('reservation').executeTakeFirstOrThrow()).reservation;
  await tasks.run('t1', { mode: 'exclusive', purpose: 'first' }, async (task) => {
    assert.match((await reservation()) ?? '', /^test \(pid \d+ on .+\): first$/);
    assert.equal(task.machine.reservation, task.holder, 'the row is read under the lock');
    await assert.rejects(
      tasks.run('t1', { mode: 'exclusive', purpose: 'second' }, async () => undefined),
      (error: unknown) => error instanceof MachineLockedError && error.holder === task.holder,
    );
    // Shared tasks neither wait for nor block an exclusive one.
    assert.equal(await tasks.run('t1', { mode: 'shared', purpose: 'read' }, async (shared) => shared.machine.name), 't1');
  });
  assert.equal(await reservation(), null);
  await assert.rejects(
    tasks.run('t1', { mode: 'exclusive', purpose: 'fails' }, async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(await reservation(), null, 'released after a failure too');
});

test("a shared task reads the driver's state but cannot change it until it upgrades; the driver is built once", async (t) => {
  const { store, tasks, types } = await setUp(t);
  let built = 0;
  const create = types.fake.create.bind(types.fake);
  let state: DriverState | undefined;
  types.fake.create = (info, context) => {
    built++;
    state = context.state;
    return create(info, context);
  };
  await tasks.run('t1', { mode: 'shared', purpose: 'look' }, async (task) => {
    assert.equal(task.driver, task.driver);
    assert.equal(built, 1);
    assert.deepEqual(await state!.get(), { kept: 1 });
    await assert.rejects(state!.set({ more: 2 }), ExclusiveLockRequiredError);
    await task.upgrade();
    assert.equal(task.exclusive, true);
    await task.driver.power.getPowerState();
    await state!.set({ more: 2 });
  });
  const row = await store.db.selectFrom('machines').select(['driver_internal_info', 'reservation']).executeTakeFirstOrThrow();
  assert.deepEqual(JSON.parse(row.driver_internal_info), { kept: 1, more: 2 });
  assert.equal(row.reservation, null, 'an upgraded task releases its reservation too');
});
