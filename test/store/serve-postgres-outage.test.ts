// anvil serve on PostgreSQL keeps running while the database is stopped, says so, and answers
// again once it is back, without a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, type ServerProcess } from '../helpers/anvil-process.ts';
import { havePostgres, startPostgres } from '../helpers/postgres.ts';

/** Resolves once the server's output (so far or to come) matches. */
function logged(server: ServerProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!pattern.test(server.logs())) return;
      server.child.stdout!.off('data', check);
      server.child.stderr!.off('data', check);
      resolve();
    };
    server.child.stdout!.on('data', check);
    server.child.stderr!.on('data', check);
    check();
  });
}

test('anvil serve --database-url survives PostgreSQL stopping and serves again when it is back', async (t) => {
  if (!havePostgres(t)) return;
  const cluster = await startPostgres();
  t.after(() => cluster.kill());
  const data = tempDir();
  const server = await startServer(data, ['--database-url', cluster.url]);
  t.after(() => server.stop());
  assert.ok(!existsSync(join(data, 'anvil.db')), 'no SQLite file next to a PostgreSQL database');
  const boot = () => fetch(`${server.url}/boot/52:54:00:00:00:77`);
  assert.match(await (await boot()).text(), /no machine has MAC 52:54:00:00:00:77/);

  const lost = logged(server, /database connection to PostgreSQL at 127\.0\.0\.1:\d+\/postgres was lost/);
  await cluster.stop();
  await lost;
  const during = await boot();
  assert.ok(during.status >= 500, `a request while the database is down fails (got ${during.status})`);
  assert.equal(server.child.exitCode, null, 'anvil serve is still running');

  await cluster.start();
  const back = logged(server, /database connection to PostgreSQL at .* is back/);
  assert.match(await (await boot()).text(), /no machine has MAC 52:54:00:00:00:77/);
  await back;
  assert.doesNotMatch(server.logs(), new RegExp(cluster.password));
});
