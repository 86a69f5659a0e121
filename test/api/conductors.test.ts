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
