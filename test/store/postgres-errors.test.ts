// Opening a store on a PostgreSQL URL that cannot work says which part is wrong and what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/store.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { havePostgres, startPostgres } from '../helpers/postgres.ts';

test('a wrong URL, a refused password, a missing database and a server that is not there are each named', async (t) => {
  if (!havePostgres(t)) return;
  const cluster = await startPostgres();
  t.after(() => cluster.kill());
  const url = (edit: (u: URL) => void) => {
    const u = new URL(cluster.url);
    edit(u);
    return u.href;
  };
  const refused = async (postgresUrl: string, code: string, message: RegExp) => {
    await assert.rejects(openStore({ postgresUrl }), (error: Error & { code?: string }) => {
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, new RegExp(cluster.password));
      return true;
    });
  };
  await refused(
    url((u) => {
      u.password = 'wrong-secret';
    }),
    'STORE_AUTH_FAILED',
    /refused the password for user anvil: fix the user and password in ANVIL_DATABASE_URL/,
  );
  await refused(
    url((u) => {
      u.pathname = '/nowhere';
    }),
    'STORE_NO_DATABASE',
    /has no database nowhere: create it \(createdb -O anvil nowhere\)/,
  );
  const closed = await freeTcpPort();
  await refused(
    url((u) => {
      u.port = String(closed);
    }),
    'STORE_UNREACHABLE',
    new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${closed}/postgres \\(connection refused\\)`),
  );
  await refused('mysql://anvil@127.0.0.1/anvil', 'STORE_BAD_URL', /not a postgres:\/\/ URL/);
  // The right URL still opens.
  const store = await openStore({ postgresUrl: cluster.url });
  await store.close();
});
