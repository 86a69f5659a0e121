// GET /api/v1/conductors and `anvil conductor list` on a running server: its own conductor,
// alive, owning every machine (one server: on SQLite always, on PostgreSQL as the ring's only member).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { ANVIL, exec } from '../helpers/anvil-process.ts';
import { testBackend } from '../helpers/database.ts';

test('the API and the CLI list the running server’s conductor, alive and owning every machine', async (t) => {
  const anvil = await testAnvil(t);
  const at = new Date().toISOString();
  await anvil.services.store.db
    .insertInto('machines')
    .values(['a', 'b', 'c'].map((name) => ({ name, created_at: at, updated_at: at })))
    .execute();
  const res = await anvil.api('/api/v1/conductors');
  assert.equal(res.status, 200);
  const body = (await res.json()) as {
    heartbeatS: number;
    deadAfterS: number;
    conductors: Array<{ id: string; pid: number; alive: boolean; machines: number }>;
  };
  assert.equal(body.heartbeatS, 10);
  assert.equal(body.deadAfterS, 30);
  assert.equal(body.conductors.length, 1);
  assert.equal(body.conductors[0]?.id, anvil.services.conductors.id);
  assert.equal(body.conductors[0]?.pid, process.pid);
  assert.equal(body.conductors[0]?.alive, true);
  assert.equal(body.conductors[0]?.machines, 3);
  assert.equal((await anvil.api('/api/v1/conductors', { token: null })).status, 401);

  if (testBackend() === 'sqlite') {
    const out = await exec(ANVIL, ['conductor', 'list', '--data', anvil.data], { ANVIL_DATABASE_URL: '' });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^ID\s+HOST\s+PID\s+STARTED\s+HEARTBEAT\s+STATE\s+MACHINES/);
    assert.match(out.stdout, new RegExp(`${anvil.services.conductors.id}.* ${process.pid} .*alive\\s+3\\s*$`, 'm'));
  }
});

test('GET /api/v1/work/{id}: an operation handed to an owner, its state and outcome; an unknown id is 404 naming what to read instead', async (t) => {
  const anvil = await testAnvil(t);
  const { store } = anvil.services;
  // As another process queues it for the owner (this in-process server runs no queue).
  const { id } = await store.db
    .insertInto('work_items')
    .values({ machine_name: 'srv1', kind: 'power', args: JSON.stringify({ target: 'on' }), requested_by: 'alice (api)', created_at: new Date().toISOString() })
    .returning('id')
    .executeTakeFirstOrThrow();
  const queued = (await (await anvil.api(`/api/v1/work/${id}`)).json()) as Record<string, unknown>;
  assert.deepEqual(
    { id: queued.id, machine: queued.machine, kind: queued.kind, args: queued.args, state: queued.state, requestedBy: queued.requestedBy, error: queued.error },
    { id, machine: 'srv1', kind: 'power', args: { target: 'on' }, state: 'queued', requestedBy: 'alice (api)', error: null },
  );
  await store.db
    .updateTable('work_items')
    .set({
      state: 'failed',
      finished_at: new Date().toISOString(),
      error: 'the BMC does not answer',
      error_code: 'CONTROLLER_UNREACHABLE',
      error_category: 'unavailable',
    })
    .where('id', '=', id)
    .execute();
  const failed = (await (await anvil.api(`/api/v1/work/${id}`)).json()) as { state: string; error: unknown };
  assert.equal(failed.state, 'failed');
  assert.deepEqual(failed.error, { code: 'CONTROLLER_UNREACHABLE', category: 'unavailable', message: 'the BMC does not answer' });
  const missing = await anvil.api(`/api/v1/work/${id + 1000}`);
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as { error: { code: string; message: string } }).error.message, /no work item \d+; .*machine's events/);
  assert.equal((await anvil.api('/api/v1/work/zero')).status, 400);
  assert.equal((await anvil.api(`/api/v1/work/${id}`, { token: null })).status, 401);
});
