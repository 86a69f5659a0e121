import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './store.ts';
import { migrationNames } from './migrations/index.ts';

test('a database made by an older version upgrades in place and keeps its data', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'anvil-store-')), 'anvil.db');
  const old = await openStore({ sqlitePath: file, migrateTo: migrationNames[0] });
  const tables = async (s: typeof old) => (await s.db.introspection.getTables()).map((t) => t.name).sort();
  assert.ok(!(await tables(old)).includes('runs'), 'the old schema has no runs table');
  await old.db.insertInto('machines').values({ name: 'kept', created_at: 'then', updated_at: 'then' }).execute();
  await old.db.insertInto('macs').values({ mac: '52:54:00:00:00:01', machine_id: 1 }).execute();
  await old.close();

  const upgraded = await openStore({ sqlitePath: file });
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
  const again = await openStore({ sqlitePath: file });
  assert.equal((await again.db.selectFrom('machines').selectAll().execute()).length, 1);
  await again.close();
});

test('deleting a machine removes its MACs, boot log and runs with it', async () => {
  const s = await openStore({ sqlitePath: ':memory:' });
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
  await s.close();
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
