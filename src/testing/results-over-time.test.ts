import { test } from 'node:test';
import assert from 'node:assert/strict';
import { worstMachines } from './results-over-time.ts';
import { testStore } from '../../test/helpers/database.ts';

test('the worst machines come most errors first, and machines with as many by name, on every backend', async (t) => {
  const { db } = await testStore(t);
  const at = '2026-01-02T03:04:05.000Z';
  for (const [name, errors] of [
    ['node-c', 2],
    ['node-a', 2],
    ['node-d', 5],
    ['node-b', 2],
  ] as const) {
    const { id } = await db.insertInto('machines').values({ name, created_at: at, updated_at: at }).returning('id').executeTakeFirstOrThrow();
    await db
      .insertInto('runs')
      .values({
        machine_id: id,
        test: 't',
        state: 'done',
        requested_at: at,
        sent_at: at,
        finished_at: at,
        errors,
        version: null,
        upload_path: null,
        upload_bytes: null,
        error_reason: null,
      })
      .execute();
  }
  assert.deepEqual(await worstMachines(db, '2026-01-01T00:00:00.000Z'), [
    { machine: 'node-d', errors: 5, runs: 1 },
    { machine: 'node-a', errors: 2, runs: 1 },
    { machine: 'node-b', errors: 2, runs: 1 },
    { machine: 'node-c', errors: 2, runs: 1 },
  ]);
  assert.deepEqual(
    (await worstMachines(db, '2026-01-01T00:00:00.000Z', 2)).map((w) => w.machine),
    ['node-d', 'node-a'],
  );
});
