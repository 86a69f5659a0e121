import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../store/store.ts';
import { testStore } from '../../test/helpers/database.ts';
import { PowerSync, powerSyncFromEnv } from './power-sync.ts';
import type { MachineControl } from './machine-control.ts';
import type { Machine } from '../store/schema.ts';

test('power sync reads with bounded concurrency, skips manual, locked and operator-maintenance machines', async (t) => {
  const store = await testStore(t);
  const now = new Date().toISOString();
  for (let i = 0; i < 20; i++)
    await store.db
      .insertInto('machines')
      .values({ name: `m${i}`, driver: 'fake', created_at: now, updated_at: now })
      .execute();
  await store.db.insertInto('machines').values({ name: 'manual1', created_at: now, updated_at: now }).execute();
  await store.db.insertInto('machines').values({ name: 'locked', driver: 'fake', reservation: 'someone', created_at: now, updated_at: now }).execute();
  await store.db
    .insertInto('machines')
    .values({ name: 'held', driver: 'fake', maintenance: 1, maintenance_reason: 'operator', created_at: now, updated_at: now })
    .execute();
  let inFlight = 0;
  let most = 0;
  const read: string[] = [];
  const recorded: string[] = [];
  const control = {
    tasks: {
      run: async (m: Machine, _options: unknown, work: (task: unknown) => Promise<unknown>) => work({ machine: m, driver: driverOf(m) }),
    },
    recordPower: async (task: { machine: Machine }) => {
      recorded.push(task.machine.name);
      return true;
    },
    event: async () => {},
  } as unknown as MachineControl;
  function driverOf(m: Machine) {
    return {
      power: {
        getPowerState: async () => {
          inFlight++;
          most = Math.max(most, inFlight);
          read.push(m.name);
          await new Promise((r) => setImmediate(r));
          inFlight--;
          return 'on' as const;
        },
      },
    };
  }
  const report = await new PowerSync(store.db, control, systemClock, { concurrency: 3 }).runOnce();
  assert.equal(report.checked, 20);
  assert.equal(most, 3);
  assert.deepEqual(new Set(read), new Set(Array.from({ length: 20 }, (_, i) => `m${i}`)));
  assert.equal(recorded.length, 20);
});

test('power sync settings from the environment', () => {
  assert.deepEqual(powerSyncFromEnv({}), {});
  assert.equal(powerSyncFromEnv({ ANVIL_POWER_SYNC_INTERVAL: '0' }), false);
  assert.deepEqual(powerSyncFromEnv({ ANVIL_POWER_SYNC_INTERVAL: '2.5', ANVIL_POWER_SYNC_WORKERS: '4', ANVIL_POWER_SYNC_MAX_FAILURES: '5' }), {
    intervalMs: 2500,
    concurrency: 4,
    maxFailures: 5,
  });
  assert.throws(() => powerSyncFromEnv({ ANVIL_POWER_SYNC_INTERVAL: 'soon' }), /ANVIL_POWER_SYNC_INTERVAL='soon'/);
});

test('power sync reads only the machines this conductor owns', async (t) => {
  const store = await testStore(t);
  const now = new Date().toISOString();
  for (let i = 0; i < 6; i++)
    await store.db
      .insertInto('machines')
      .values({ name: `m${i}`, driver: 'fake', created_at: now, updated_at: now })
      .execute();
  const read: string[] = [];
  const control = {
    tasks: {
      run: async (m: Machine, _o: unknown, work: (task: unknown) => Promise<unknown>) =>
        work({ machine: m, driver: { power: { getPowerState: async () => (read.push(m.name), 'on') } } }),
    },
    recordPower: async () => false,
    event: async () => {},
  } as unknown as MachineControl;
  const report = await new PowerSync(store.db, control, systemClock, { owns: (name) => Number(name.slice(1)) % 2 === 0 }).runOnce();
  assert.equal(report.checked, 3);
  assert.deepEqual(read.sort(), ['m0', 'm2', 'm4']);
});
