import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstFinished, MIN_RESULT_BUCKETS, RESULT_SPANS, resultWindow, resultsOverTime, worstMachines } from './results-over-time.ts';
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

test('the results window fits the data: minutes for a new lab, hours, days, then months; at least a few buckets, ending now', () => {
  const now = new Date('2026-11-21T05:07:30.000Z');
  const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
  const fresh = resultWindow(ago(20 * 60_000), now);
  assert.equal(fresh.span, 'minute');
  assert.equal(fresh.keys.length, 21, 'from the first run’s minute to now');
  assert.equal(fresh.keys[0], '2026-11-21T04:47');
  assert.equal(fresh.keys.at(-1), '2026-11-21T05:07');
  assert.ok(fresh.all);

  const one = resultWindow(ago(10_000), now);
  assert.deepEqual([one.span, one.keys.length, one.keys.at(-1)], ['minute', MIN_RESULT_BUCKETS, '2026-11-21T05:07']);

  const day = resultWindow(ago(30 * 3600_000), now);
  assert.deepEqual([day.span, day.keys.length, day.keys[0]], ['hour', 31, '2026-11-19T23']);
  const weeks = resultWindow(ago(20 * 86_400_000), now);
  assert.deepEqual([weeks.span, weeks.keys.length, weeks.keys[0]], ['day', 21, '2026-11-01']);
  const years = resultWindow('2024-02-10T00:00:00.000Z', now);
  assert.deepEqual([years.span, years.keys.length, years.keys[0], years.keys.at(-1)], ['month', 34, '2024-02', '2026-11']);
  // More than ten years: months, the oldest cut off.
  const old = resultWindow('2001-01-01T00:00:00.000Z', now);
  assert.deepEqual([old.span, old.keys.length, old.all], ['month', RESULT_SPANS.month.max, false]);

  // Nothing finished yet: a few days, so the page still has an axis.
  assert.deepEqual(resultWindow(undefined, now).keys, ['2026-11-16', '2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21']);
  // A span asked for is kept, cut at its maximum.
  const asked = resultWindow(ago(20 * 86_400_000), now, 'hour');
  assert.deepEqual([asked.span, asked.keys.length, asked.all], ['hour', RESULT_SPANS.hour.max, false]);
  // A month boundary: months step by calendar, not by 30 days.
  const months = resultWindow('2026-01-31T23:00:00.000Z', new Date('2026-03-01T00:00:00.000Z'), 'month');
  assert.deepEqual(months.keys.slice(-3), ['2026-01', '2026-02', '2026-03']);
});

test('results over time count each finished run in its bucket of the window chosen from the first finished run, on every backend', async (t) => {
  const { db } = await testStore(t);
  assert.equal(await firstFinished(db), undefined);
  const created = '2026-11-21T04:00:00.000Z';
  const { id } = await db.insertInto('machines').values({ name: 'n1', created_at: created, updated_at: created }).returning('id').executeTakeFirstOrThrow();
  const run = (state: 'done' | 'error' | 'requested', finished: string | null, errors = 0) =>
    db
      .insertInto('runs')
      .values({
        machine_id: id,
        test: 't',
        state,
        requested_at: created,
        sent_at: created,
        finished_at: finished,
        errors,
        version: null,
        upload_path: null,
        upload_bytes: null,
        error_reason: null,
      })
      .execute();
  await run('done', '2026-11-21T04:50:10.000Z');
  await run('done', '2026-11-21T04:50:50.000Z', 3);
  await run('error', '2026-11-21T05:02:00.000Z');
  await run('requested', null);
  // An earlier finish of a later run: the window starts from the earliest finish, not the first id.
  await run('done', '2026-11-21T04:45:59.000Z');
  assert.equal(await firstFinished(db), '2026-11-21T04:45:59.000Z');
  const window = resultWindow(await firstFinished(db), new Date('2026-11-21T05:07:30.000Z'));
  assert.equal(window.span, 'minute');
  const buckets = await resultsOverTime(db, window);
  assert.equal(buckets.length, 23);
  const got = buckets.filter((b) => b.clean + b.withErrors + b.failed > 0).map((b) => [b.key, b.tick, b.clean, b.withErrors, b.failed, b.errorLines]);
  assert.deepEqual(got, [
    ['2026-11-21T04:45', '04:45', 1, 0, 0, 0],
    ['2026-11-21T04:50', '04:50', 1, 1, 0, 3],
    ['2026-11-21T05:02', '05:02', 0, 0, 1, 0],
  ]);
  assert.equal(buckets[0]!.label, '2026-11-21 04:45');
});
