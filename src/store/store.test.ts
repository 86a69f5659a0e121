import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { openStore, type OpenOptions } from './store.ts';
import { migrationNames } from './migrations/index.ts';
import { testDatabaseUrl, testStore } from '../../test/helpers/database.ts';

test('a database made by an older version upgrades in place and keeps its data', async () => {
  const postgresUrl = await testDatabaseUrl();
  const where: OpenOptions = postgresUrl ? { postgresUrl } : { sqlitePath: join(mkdtempSync(join(tmpdir(), 'anvil-store-')), 'anvil.db') };
  const old = await openStore({ ...where, migrateTo: migrationNames[0] });
  const tables = async (s: typeof old) => (await s.db.introspection.getTables()).map((t) => t.name).sort();
  assert.ok(!(await tables(old)).includes('runs'), 'the old schema has no runs table');
  await old.db.insertInto('machines').values({ name: 'kept', created_at: 'then', updated_at: 'then' }).execute();
  await old.db.insertInto('macs').values({ mac: '52:54:00:00:00:01', machine_id: 1 }).execute();
  await old.close();

  const upgraded = await openStore(where);
  assert.ok((await tables(upgraded)).includes('runs'));
  const machine = await upgraded.db.selectFrom('machines').selectAll().executeTakeFirstOrThrow();
  assert.equal(machine.name, 'kept');
  const run = await upgraded.db
    .insertInto('runs')
    .values({
      machine_id: machine.id,
      test: 't',
      state: 'requested',
      requested_at: 'now',
      sent_at: null,
      finished_at: null,
      version: null,
      upload_path: null,
      upload_bytes: null,
      error_reason: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  assert.equal(run.id, 1);
  await upgraded.close();
  // Opening again is a no-op.
  const again = await openStore(where);
  assert.equal((await again.db.selectFrom('machines').selectAll().execute()).length, 1);
  await again.close();
});

test('every earlier version upgrades in place to the latest, keeping machines and MACs', async () => {
  for (const from of migrationNames.slice(1, -1)) {
    const postgresUrl = await testDatabaseUrl();
    const where: OpenOptions = postgresUrl ? { postgresUrl } : { sqlitePath: join(mkdtempSync(join(tmpdir(), 'anvil-store-')), 'anvil.db') };
    const old = await openStore({ ...where, migrateTo: from });
    await old.db.insertInto('machines').values({ name: 'kept', created_at: 'then', updated_at: 'then' }).execute();
    await old.db.insertInto('macs').values({ mac: '52:54:00:00:00:01', machine_id: 1 }).execute();
    await old.close();
    const upgraded = await openStore(where);
    const applied = await upgraded.db
      .selectFrom('anvil_migrations' as never)
      .select('name' as never)
      .orderBy('name' as never)
      .execute();
    assert.deepEqual(
      applied.map((r) => (r as { name: string }).name),
      migrationNames,
      `from ${from}`,
    );
    const mac = await upgraded.db.selectFrom('macs').innerJoin('machines', 'machines.id', 'macs.machine_id').select(['machines.name', 'macs.mac']).execute();
    assert.deepEqual(mac, [{ name: 'kept', mac: '52:54:00:00:00:01' }], `from ${from}`);
    await upgraded.close();
  }
});

test('deleting a machine removes its MACs, boot log and runs with it', async (t) => {
  const s = await testStore(t);
  const m = await s.db.insertInto('machines').values({ name: 'm', created_at: 'x', updated_at: 'x' }).returning('id').executeTakeFirstOrThrow();
  await s.db.insertInto('macs').values({ mac: 'aa:aa:aa:aa:aa:aa', machine_id: m.id }).execute();
  await s.db
    .insertInto('runs')
    .values({
      machine_id: m.id,
      test: 't',
      state: 'requested',
      requested_at: 'now',
      sent_at: null,
      finished_at: null,
      version: null,
      upload_path: null,
      upload_bytes: null,
      error_reason: null,
    })
    .execute();
  await s.db.deleteFrom('machines').execute();
  assert.equal((await s.db.selectFrom('macs').selectAll().execute()).length, 0);
  assert.equal((await s.db.selectFrom('runs').selectAll().execute()).length, 0);
});

test('64-bit integers and counts read back as numbers, as on SQLite', async (t) => {
  const s = await testStore(t);
  const m = await s.db.insertInto('machines').values({ name: 'm', created_at: 'x', updated_at: 'x' }).returning('id').executeTakeFirstOrThrow();
  await s.db
    .insertInto('runs')
    .values({
      machine_id: m.id,
      test: 't',
      state: 'done',
      requested_at: 'now',
      sent_at: null,
      finished_at: null,
      version: null,
      upload_path: 'x.log',
      upload_bytes: 5_000_000_000,
      error_reason: null,
    })
    .execute();
  const run = await s.db.selectFrom('runs').select('upload_bytes').executeTakeFirstOrThrow();
  assert.strictEqual(run.upload_bytes, 5_000_000_000);
  const { n } = await s.db
    .selectFrom('runs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  assert.strictEqual(n, 1);
});

test('the database and its -wal and -shm are created readable by their owner only; an old one loses its bits for others', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-store-'));
  const file = join(dir, 'anvil.db');
  const store = await openStore({ sqlitePath: file });
  await store.db.insertInto('machines').values({ name: 'm', created_at: 'then', updated_at: 'then' }).execute();
  const mode = (path: string) => statSync(path).mode & 0o777;
  for (const path of [file, `${file}-wal`, `${file}-shm`]) assert.equal(mode(path).toString(8), '600', path);
  await store.close();

  const old = join(dir, 'old.db');
  const made = await openStore({ sqlitePath: old });
  await made.close();
  chmodSync(old, 0o644);
  writeFileSync(`${old}-wal`, '', { mode: 0o644 });
  chmodSync(`${old}-wal`, 0o644);
  const reopened = await openStore({ sqlitePath: old });
  assert.equal(mode(old).toString(8), '640');
  await reopened.close();
});

test('a SQLite transaction takes the write lock when it begins: a writer in another process waits instead of breaking its snapshot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-store-'));
  const file = join(dir, 'anvil.db');
  const store = await openStore({ sqlitePath: file });
  t.after(() => store.close());
  // Another process (pxemngr beside a server), here a second connection that does not wait.
  const other = new SQLite(file);
  t.after(() => other.close());
  other.pragma('busy_timeout = 0');
  const insert = other.prepare("insert into machines (name, created_at, updated_at) values (?, 'then', 'then')");
  await store.db.transaction().execute(async (trx) => {
    // Read first, as machines.add does, then write: with a deferred BEGIN the other writer's
    // commit in between made this transaction's write fail with SQLITE_BUSY_SNAPSHOT.
    await trx.selectFrom('machines').select('id').execute();
    assert.throws(() => insert.run('other'), { code: 'SQLITE_BUSY' });
    await trx.insertInto('machines').values({ name: 'mine', created_at: 'then', updated_at: 'then' }).execute();
  });
  insert.run('other');
  const names = (await store.db.selectFrom('machines').select('name').orderBy('name').execute()).map((r) => r.name);
  assert.deepEqual(names, ['mine', 'other']);
});
