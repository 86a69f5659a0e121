import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { durably } from './durable.ts';
import type { Database } from './schema.ts';
import { testStore } from '../../test/helpers/database.ts';

async function synchronous(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(db);
  return rows[0]!.synchronous;
}

const FULL = 2;
const NORMAL = 1;

test('a durable write commits with synchronous = FULL; every other write keeps NORMAL, also after a durable write fails', async (t) => {
  const store = await testStore(t, { sqlitePath: join(mkdtempSync(join(tmpdir(), 'anvil-durable-')), 'anvil.db') });
  if (store.dialect === 'postgres') {
    // PostgreSQL acknowledges a commit once its WAL is flushed (synchronous_commit = on, its
    // default); the test cluster runs with it off, and a durable write turns it on for itself.
    const setting = async (db: Kysely<Database>) =>
      (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(db)).rows[0]!.synchronous_commit;
    const outside = await setting(store.db);
    assert.equal(await durably(store.db, setting), 'on');
    assert.equal(await setting(store.db), outside);
    return;
  }
  const { db } = store;
  assert.equal(await synchronous(db), NORMAL);
  const inside = await durably(db, async (trx) => {
    await trx.insertInto('settings').values({ key: 'k', value: 'v' }).execute();
    return synchronous(trx);
  });
  assert.equal(inside, FULL);
  assert.equal(await synchronous(db), NORMAL);
  assert.equal((await db.selectFrom('settings').select('value').where('key', '=', 'k').executeTakeFirstOrThrow()).value, 'v');

  await assert.rejects(
    durably(db, async (trx) => {
      await trx.insertInto('settings').values({ key: 'gone', value: 'v' }).execute();
      throw new Error('refused');
    }),
    /refused/,
  );
  assert.equal(await synchronous(db), NORMAL);
  assert.equal(await db.selectFrom('settings').select('value').where('key', '=', 'gone').executeTakeFirst(), undefined);

  // Durable and plain writes at once on the one connection: each durable commit still sees FULL.
  const seen = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0
        ? durably(db, async (trx) => {
            await trx
              .insertInto('settings')
              .values({ key: `d${i}`, value: 'v' })
              .execute();
            return synchronous(trx);
          })
        : db
            .insertInto('settings')
            .values({ key: `p${i}`, value: 'v' })
            .execute()
            .then(() => -1),
    ),
  );
  assert.deepEqual(
    seen.filter((s) => s !== -1),
    Array(10).fill(FULL),
  );
  assert.equal(await synchronous(db), NORMAL);
});
