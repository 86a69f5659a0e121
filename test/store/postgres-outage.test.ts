// PostgreSQL stopping under a running store: the pool's idle connections fail, which must be a
// warning, not a crash; once the server is back, queries work again without reopening the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/store.ts';
import { havePostgres, startPostgres } from '../helpers/postgres.ts';

test('stopping PostgreSQL under a running store is a warning, and queries work again when it is back', async (t) => {
  if (!havePostgres(t)) return;
  const cluster = await startPostgres();
  t.after(() => cluster.kill());
  const warnings: string[] = [];
  const infos: string[] = [];
  let onWarning = () => {};
  const log = {
    warn: (m: string) => {
      warnings.push(m);
      onWarning();
    },
    info: (m: string) => infos.push(m),
  };
  const store = await openStore({ postgresUrl: cluster.url, log });
  t.after(() => store.close());
  const count = async () =>
    (
      await store.db
        .selectFrom('machines')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n;
  await store.db.insertInto('machines').values({ name: 'kept', created_at: 'x', updated_at: 'x' }).execute();
  assert.equal(await count(), 1);

  // The pool now holds an idle connection, which the shutdown terminates.
  const warned = new Promise<void>((resolve) => {
    onWarning = resolve;
  });
  await cluster.stop();
  await warned;
  assert.equal(warnings.length, 1, 'one warning per outage');
  assert.match(warnings[0]!, /database connection to PostgreSQL at 127\.0\.0\.1:\d+\/postgres was lost/);
  assert.match(warnings[0]!, /check that PostgreSQL is running/);
  assert.doesNotMatch(warnings[0]!, new RegExp(cluster.password));
  await assert.rejects(count(), /ECONNREFUSED|connect/);

  await cluster.start();
  assert.equal(await count(), 1);
  assert.deepEqual(infos, [`the database connection to PostgreSQL at 127.0.0.1:${cluster.port}/postgres is back`]);
  assert.equal(warnings.length, 1);
});
