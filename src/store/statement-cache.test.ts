import { test } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { cachingStatements } from './statement-cache.ts';

test('a SQL text seen before runs its kept statement; the cache is bounded; a busy statement is not shared', async () => {
  const sqlite = new SQLite(':memory:');
  const prepared: string[] = [];
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((text: string) => {
    prepared.push(text);
    return prepare(text);
  }) as typeof sqlite.prepare;
  const cache = cachingStatements(sqlite, 3);
  const db = new Kysely<{ t: { id: number; name: string } }>({ dialect: new SqliteDialect({ database: cache }) });
  await sql`create table t (id integer primary key, name text)`.execute(db);
  for (let i = 0; i < 50; i++)
    await db
      .insertInto('t')
      .values({ id: i, name: `n${i}` })
      .execute();
  for (let i = 0; i < 50; i++) assert.equal((await db.selectFrom('t').select('name').where('id', '=', i).executeTakeFirstOrThrow()).name, `n${i}`);
  assert.equal(prepared.length, 3, prepared.join('\n'));

  // More distinct texts than kept: the least recently used goes, and the cache stays at its size.
  for (let n = 1; n <= 6; n++)
    await db
      .selectFrom('t')
      .select('id')
      .where(
        'id',
        'in',
        Array.from({ length: n }, (_, i) => i),
      )
      .execute();
  assert.equal(cache.cached, 3);
  assert.equal(prepared.length, 9);

  // A statement mid-iteration cannot run again: the same text meanwhile gets a statement of its own.
  const text = 'select id from t where id < ? order by id';
  const seen: unknown[] = [];
  for (const row of cache.prepare(text).iterate([3])) {
    seen.push((row as { id: number }).id);
    assert.equal(cache.prepare(text).all([3]).length, 3);
  }
  assert.deepEqual(seen, [0, 1, 2]);
  await db.destroy();
  assert.equal(cache.cached, 0);
});
