import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testStore } from '../../test/helpers/database.ts';
import { timelinePage, TIMELINE_MAX_PAGE } from './timeline.ts';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 1, 8, minute)).toISOString();

test('a machine timeline merges boots, runs and events newest first, and pages walk it once, in order, on every backend', async (t) => {
  const { db } = await testStore(t);
  const machine = async (name: string) =>
    (
      await db
        .insertInto('machines')
        .values({ name, created_at: at(0), updated_at: at(0) })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  const id = await machine('n1');
  const other = await machine('n2');
  const boot = (machineId: number, minute: number, kind: 'boot' | 'nextboot' = 'boot') =>
    db
      .insertInto('boot_log')
      .values({ machine_id: machineId, at: at(minute), kind, profile: 'install', reason: 'boot served', loader: null, arch: null, address: null })
      .returning('id')
      .executeTakeFirstOrThrow();
  const event = (machineId: number, minute: number, kind: string) =>
    db
      .insertInto('machine_events')
      .values({ machine_id: machineId, at: at(minute), kind, message: `${kind} at ${minute}` })
      .returning('id')
      .executeTakeFirstOrThrow();
  const run = (machineId: number, requested: number, finished: number | null) =>
    db
      .insertInto('runs')
      .values({
        machine_id: machineId,
        test: 'hello',
        state: finished === null ? 'requested' : 'done',
        requested_at: at(requested),
        sent_at: finished === null ? null : at(requested),
        finished_at: finished === null ? null : at(finished),
        version: null,
        upload_path: null,
        upload_bytes: null,
        error_reason: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();

  const expected: string[] = [];
  const e1 = await event(id, 1, 'power');
  const b1 = await boot(id, 2, 'nextboot');
  const b2 = await boot(id, 3);
  // Requested at 4, finished at 9: it stands at 9, after what happened between.
  const r1 = await run(id, 4, 9);
  const e2 = await event(id, 5, 'provision');
  const b3 = await boot(id, 6);
  // Three at the same minute: by source (run, event, boot), then newest id first.
  const e3 = await event(id, 7, 'power');
  const e4 = await event(id, 7, 'lock');
  const b4 = await boot(id, 7);
  const r2 = await run(id, 7, null);
  const r3 = await run(id, 10, 11);
  // Another machine's history is not this one's.
  await event(other, 8, 'power');
  await boot(other, 8);
  await run(other, 8, 8);
  expected.push(
    `run ${r3.id}`,
    `run ${r1.id}`,
    `run ${r2.id}`,
    `event ${e4.id}`,
    `event ${e3.id}`,
    `boot ${b4.id}`,
    `boot ${b3.id}`,
    `event ${e2.id}`,
    `boot ${b2.id}`,
    `boot ${b1.id}`,
    `event ${e1.id}`,
  );
  const idOf = (e: Awaited<ReturnType<typeof timelinePage>>['entries'][number]) =>
    `${e.source} ${e.source === 'boot' ? e.boot.id : e.source === 'run' ? e.run.id : e.event.id}`;

  const whole = await timelinePage(db, id, 100);
  assert.deepEqual(whole.entries.map(idOf), expected);
  assert.equal(whole.total, expected.length);
  const first = whole.entries[0]!;
  assert.ok(first.source === 'run' && first.run.finished_at === at(11) && first.at === at(11), 'a run stands at its latest moment, with its row');
  const e = whole.entries.find((x) => x.source === 'event');
  assert.ok(e?.source === 'event' && e.event.message === 'lock at 7');

  for (const size of [1, 3, 4]) {
    const walked: string[] = [];
    for (let offset = 0; offset < expected.length + size; offset += size) {
      const page = await timelinePage(db, id, size, offset);
      assert.equal(page.total, expected.length);
      assert.ok(page.entries.length <= size);
      walked.push(...page.entries.map(idOf));
    }
    assert.deepEqual(walked, expected, `pages of ${size}`);
  }
  assert.deepEqual((await timelinePage(db, id, 3, 100)).entries, []);
  assert.deepEqual(await timelinePage(db, 9999), { entries: [], total: 0 });
});

test('a timeline page is never longer than its maximum', async (t) => {
  const { db } = await testStore(t);
  const { id } = await db
    .insertInto('machines')
    .values({ name: 'n1', created_at: at(0), updated_at: at(0) })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('machine_events')
    .values(Array.from({ length: TIMELINE_MAX_PAGE + 5 }, (_, i) => ({ machine_id: id, at: at(i % 60), kind: 'power', message: `m${i}` })))
    .execute();
  const page = await timelinePage(db, id, 10_000);
  assert.equal(page.entries.length, TIMELINE_MAX_PAGE);
  assert.equal(page.total, TIMELINE_MAX_PAGE + 5);
});
