import { test } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { join } from 'node:path';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { ANVIL, exec, tempDir } from '../helpers/anvil-process.ts';

test('operator routes need a token with the right role; machine-facing routes need none', async (t) => {
  const a = await testAnvil(t);
  let r = await a.api('/api/v1/machines', { token: null });
  assert.equal(r.status, 401);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /Authorization: Bearer/);
  r = await a.api('/api/v1/machines', { token: 'anvil_not-a-real-token' });
  assert.equal(r.status, 401);
  const viewer = (await a.services.tokens.create('viewer', 'v')).token;
  r = await a.api('/api/v1/machines', { token: viewer });
  assert.equal(r.status, 200);
  r = await a.api('/api/v1/machines', { token: viewer, method: 'POST', json: { name: 'x', macs: ['52:54:00:00:00:01'] } });
  assert.equal(r.status, 403);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /needs the operator role; token 'v' has viewer/);
  const operator = (await a.services.tokens.create('operator', 'o')).token;
  r = await a.api('/api/v1/machines', { token: operator, method: 'POST', json: { name: 'x', macs: ['52:54:00:00:00:01'] } });
  assert.equal(r.status, 201);
  r = await a.api('/api/v1/tokens', { token: operator });
  assert.equal(r.status, 403);
  r = await a.api('/api/v1/tokens', { method: 'POST', json: { role: 'viewer', name: 'ci' } });
  assert.equal(r.status, 201);
  const made = (await r.json()) as { token: string; id: number };
  assert.match(made.token, /^anvil_/);
  const list = (await (await a.api('/api/v1/tokens')).json()) as Array<Record<string, unknown>>;
  assert.ok(list.every((row) => !('hash' in row) && !('token' in row)));
  assert.equal((await a.api(`/api/v1/tokens/${made.id}`, { method: 'DELETE' })).status, 204);
  assert.equal((await a.api('/api/v1/machines', { token: made.token })).status, 401);
  assert.equal((await fetch(`${a.url}/profile/52:54:00:00:00:01/`)).status, 200);
  assert.equal((await fetch(`${a.url}/api/v1/health`)).status, 200);
});

test('the OpenAPI document describes the API, and the docs page is served', async (t) => {
  const a = await testAnvil(t);
  const doc = (await (await fetch(`${a.url}/api/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.match(doc.openapi, /^3\./);
  for (const path of [
    '/api/v1/machines',
    '/api/v1/machines/{name}',
    '/api/v1/machines/{name}/next-boot',
    '/api/v1/machines/{name}/runs',
    '/api/v1/runs/{id}',
    '/api/v1/profiles/sync',
    '/api/v1/tests/sync',
    '/api/v1/versions',
    '/api/v1/tokens',
  ]) {
    assert.ok(doc.paths[path], `OpenAPI lists ${path}`);
  }
  assert.ok(doc.paths['/api/v1/machines/{name}/next-boot']!.put);
  const docs = await fetch(`${a.url}/api/v1/docs/`);
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /swagger/i);
});

test('tokens are stored hashed; bin/anvil token create prints one that works', async (t) => {
  const data = tempDir();
  const made = await exec(ANVIL, ['token', 'create', '--role', 'operator', '--data', data]);
  assert.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim();
  assert.match(token, /^anvil_[A-Za-z0-9_-]{20,}$/);
  const db = new SQLite(join(data, 'anvil.db'), { readonly: true });
  const rows = db.prepare('select * from tokens').all() as Array<Record<string, unknown>>;
  db.close();
  assert.equal(rows.length, 1);
  assert.ok(!JSON.stringify(rows).includes(token.slice(6)), 'the secret is not in the database');
  const bad = await exec(ANVIL, ['token', 'create', '--role', 'root', '--data', data]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /'root' is not a role; roles: viewer, operator and admin/);
  void t;
});
