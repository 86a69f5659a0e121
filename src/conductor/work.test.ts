// The work queue over the test backend (SQLite or PostgreSQL): two conductors claiming the
// same queued rows at once run each exactly once; only the owner claims; a dead conductor's
// running rows become interrupted, naming it; an owner's error comes back with its code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testStore } from '../../test/helpers/database.ts';
import { AnvilError } from '../common/errors.ts';
import { WorkQueue, type WorkConductors } from './work.ts';

function conductor(id: string, owns: (name: string) => boolean, dead: readonly string[] = []): WorkConductors {
  return {
    id,
    heartbeatMs: 1_000,
    deadAfterMs: 3_000,
    owns,
    ownerOf: (name) => (owns(name) ? id : 'another'),
    isDead: async (other) => dead.includes(other),
  };
}

const clock = () => new Date();

test('two conductors claiming at once run each queued row exactly once', async (t) => {
  const store = await testStore(t);
  const rowLocks = store.dialect === 'postgres';
  const ran = new Map<string, string[]>();
  const queues = ['c1', 'c2'].map((id) => {
    const q = new WorkQueue(
      store.db,
      conductor(id, () => true),
      clock,
      { rowLocks, concurrency: 8 },
    );
    q.handle('power', async (machine) => {
      ran.set(machine, [...(ran.get(machine) ?? []), id]);
      await new Promise((r) => setTimeout(r, 5));
      return { name: machine, powerState: 'on' };
    });
    return q;
  });
  for (let i = 0; i < 60; i++) await queues[0]!.enqueue(`m-${i}`, 'power', { target: 'on' }, 'test');
  const queued = async () => (await store.db.selectFrom('work_items').select('id').where('state', 'in', ['queued', 'running']).execute()).length;
  // A pause between passes: SQLite answers synchronously, and a loop of claims alone would never let the handlers' timers fire.
  for (let pass = 0; (await queued()) > 0; pass++) {
    assert.ok(pass < 10_000, 'the rows are all run');
    await Promise.all(queues.map((q) => q.claim()));
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(queues.map((q) => q.stop()));
  assert.equal(ran.size, 60);
  for (const [machine, by] of ran) assert.equal(by.length, 1, `${machine} ran once, not ${by.join(', ')}`);
  const rows = await store.db.selectFrom('work_items').selectAll().execute();
  assert.ok(rows.every((r) => r.state === 'done' && ran.get(r.machine_name)?.[0] === r.conductor));
  assert.deepEqual(JSON.parse(rows[0]!.result!), { name: rows[0]!.machine_name, powerState: 'on' });
});

test('only the owner claims; its error is recorded with code and category', async (t) => {
  const store = await testStore(t);
  const rowLocks = store.dialect === 'postgres';
  const mine = new WorkQueue(
    store.db,
    conductor('c1', (n) => n === 'ours'),
    clock,
    { rowLocks },
  );
  const theirs = new WorkQueue(
    store.db,
    conductor('c2', (n) => n === 'theirs'),
    clock,
    { rowLocks },
  );
  for (const q of [mine, theirs])
    q.handle('power', async (machine) => {
      throw new AnvilError('CONTROLLER_UNREACHABLE', 'unavailable', `the controller of ${machine} does not answer`);
    });
  const id = await theirs.enqueue('ours', 'power', {}, 'test');
  assert.equal(await theirs.claim(), 0, 'not its machine');
  assert.equal(await mine.claim(), 1);
  await mine.stop();
  const row = await mine.get(id);
  assert.deepEqual([row?.state, row?.conductor, row?.error_code, row?.error_category], ['failed', 'c1', 'CONTROLLER_UNREACHABLE', 'unavailable']);
  assert.match(row?.error ?? '', /controller of ours does not answer/);
});

test('a dead conductor’s running rows become interrupted, naming it; a live one’s stay running', async (t) => {
  const store = await testStore(t);
  const q = new WorkQueue(
    store.db,
    conductor('c1', () => true, ['gone']),
    clock,
    { rowLocks: store.dialect === 'postgres' },
  );
  const at = new Date().toISOString();
  const insert = (machine: string, by: string) =>
    store.db
      .insertInto('work_items')
      .values({ machine_name: machine, kind: 'power', state: 'running', requested_by: 'test', conductor: by, created_at: at, started_at: at })
      .returning('id')
      .executeTakeFirstOrThrow();
  const dead = await insert('m-1', 'gone');
  const live = await insert('m-2', 'alive');
  assert.deepEqual(await q.interruptDead(), [{ id: dead.id, machine: 'm-1', kind: 'power', conductor: 'gone' }]);
  const row = await q.get(dead.id);
  assert.equal(row?.state, 'interrupted');
  assert.match(row?.error ?? '', /conductor gone stopped heartbeating while running it/);
  assert.equal((await q.get(live.id))?.state, 'running');
  assert.equal(await q.claim(), 0, 'an interrupted row is never claimed again');
});
