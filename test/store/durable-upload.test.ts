// A test result uploaded is on disk before it is acknowledged: the file and the directory entry
// of uploads/<run>.log are synced before the row that names them commits (durably, see
// src/store/durable.ts). Watched through FileHandle.sync, and the run's row read at that moment
// through a connection of its own.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { testAnvil } from '../helpers/anvil-inproc.ts';

test('an upload is synced, file and directory, before its run is committed as done', async (t) => {
  const a = await testAnvil(t);
  const { machine } = await a.services.machines.add('n1', ['52:54:00:00:00:01']);
  const [queued] = await a.services.testing.queue(machine, ['hello']);
  const { run } = await a.services.testing.nextScript(machine, { mac: '52:54:00:00:00:01', server: 'http://127.0.0.1' });
  assert.equal(run?.id, queued!.id);
  const temp = await a.services.testing.uploadTempPath();
  writeFileSync(temp, 'I: hello\nE: one error\n');

  const handle = await open(temp, 'r');
  const proto = Object.getPrototypeOf(handle) as { sync(): Promise<void> };
  await handle.close();
  const reader = a.services.store.dialect === 'sqlite' ? new SQLite(a.services.paths.database, { readonly: true }) : undefined;
  t.after(() => reader?.close());
  const synced: { path: string; state: string | undefined }[] = [];
  const original = proto.sync;
  mock.method(proto, 'sync', function (this: { fd: number }) {
    const state = reader?.prepare('select state from runs where id = ?').pluck().get(run!.id) as string | undefined;
    synced.push({ path: readlinkSync(`/proc/self/fd/${this.fd}`), state });
    return original.call(this);
  });
  t.after(() => mock.restoreAll());

  const done = await a.services.testing.fileUpload(run!.id, temp, 22);
  assert.equal(done.state, 'done');
  const final = a.services.testing.uploadPath(run!.id);
  assert.deepEqual(
    synced.map((s) => s.path),
    [final, a.services.testing.uploadsDir],
  );
  // Synced while the run was still 'sent': the row that names the file came after it.
  if (reader)
    assert.deepEqual(
      synced.map((s) => s.state),
      ['sent', 'sent'],
    );
  assert.equal(join(a.services.testing.uploadsDir, `${run!.id}.log`), final);
});
