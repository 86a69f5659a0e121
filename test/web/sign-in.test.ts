// Signing in to the pages makes a server-side session: the cookie holds its id, never the API
// token, and is no API credential; signing out, expiry and revoking the token each end it,
// while the token itself keeps working for the API until revoked. Plain HTTP, no browser
// (pages.test.ts signs in and out with Chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testAnvil, type TestAnvil } from '../helpers/anvil-inproc.ts';
import { csrfTokenFor } from '../../src/auth/web-session.ts';
import { SESSION_MAX_AGE_S } from '../../src/auth/sessions.ts';
import { openServices } from '../../src/app/compose.ts';
import { ANVIL, exec, tempDir } from '../helpers/anvil-process.ts';
import { testDatabaseUrl } from '../helpers/database.ts';

/** Where GET `path` sends a browser with this cookie: 'page' when it is shown, else the redirect. */
async function pageWith(a: TestAnvil, cookie: string, path = '/'): Promise<string> {
  const response = await fetch(`${a.url}${path}`, { headers: { cookie }, redirect: 'manual' });
  await response.text();
  if (response.status === 200) return 'page';
  return `${response.status} ${response.headers.get('location')}`;
}

const signedOut = (path = '/') => `303 /login?next=${encodeURIComponent(path)}`;

test('the sign-in cookie is a session id: not the token, no API credential, and its CSRF token follows it', async (t) => {
  const a = await testAnvil(t, { powerSync: false });
  const { token } = await a.services.tokens.create('operator', 'otto');
  const login = await fetch(`${a.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, next: '/' }).toString(),
  });
  assert.equal(login.status, 303);
  const [set, ...more] = login.headers.getSetCookie();
  assert.deepEqual(more, [], 'one cookie');
  assert.match(set ?? '', /^anvil_session=[A-Za-z0-9_-]{43}; Max-Age=(\d+); Path=\/; HttpOnly; SameSite=Strict$/);
  assert.equal(Number(/Max-Age=(\d+)/.exec(set ?? '')?.[1]), SESSION_MAX_AGE_S);
  const cookie = (set ?? '').split(';')[0]!;
  const id = cookie.slice('anvil_session='.length);
  assert.ok(!cookie.includes(token) && !token.includes(id), 'the token is nowhere in the cookie');

  assert.equal(await pageWith(a, cookie), 'page');
  await a.services.machines.add('m1', ['52:54:00:00:00:51']);
  const machine = await (await fetch(`${a.url}/machines/m1`, { headers: { cookie } })).text();
  assert.match(machine, /otto/, 'the session acts as its token');
  assert.ok(machine.includes(`name="_csrf" value="${csrfTokenFor(id)}"`), 'forms carry the CSRF token derived from the session id');

  // Neither as a cookie nor as a bearer token does the session id reach the API.
  assert.equal((await fetch(`${a.url}/api/v1/machines`, { headers: { cookie } })).status, 401);
  assert.equal((await fetch(`${a.url}/api/v1/machines`, { headers: { authorization: `Bearer ${id}` } })).status, 401);
  assert.equal((await fetch(`${a.url}/metrics`, { headers: { authorization: `Bearer ${id}` } })).status, 401);
  // And the token in a cookie signs nobody in to the pages (the old cookie, or pasted under the new name).
  assert.equal(await pageWith(a, `anvil_token=${token}`), signedOut());
  assert.equal(await pageWith(a, `anvil_session=${token}`), signedOut());
  assert.equal((await a.api('/api/v1/machines', { token })).status, 200, 'the token is an API credential');
});

test('signing out ends the session: the old cookie is useless, the token still works for the API', async (t) => {
  const a = await testAnvil(t, { powerSync: false });
  const { token } = await a.services.tokens.create('viewer', 'vera');
  const laptop = await a.signIn(token);
  const phone = await a.signIn(token);
  assert.notEqual(laptop, phone, 'each sign-in is a session of its own');
  assert.equal(await pageWith(a, laptop, '/versions'), 'page');

  const out = await fetch(`${a.url}/logout`, { method: 'POST', headers: { cookie: laptop }, redirect: 'manual' });
  assert.equal(out.status, 303);
  assert.equal(out.headers.get('location'), '/login');
  assert.match(out.headers.getSetCookie().join('\n'), /^anvil_session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970/m);

  // A copy of the cookie kept from before (a stolen one) no longer signs in, nor follows events.
  assert.equal(await pageWith(a, laptop, '/versions'), signedOut('/versions'));
  assert.equal((await fetch(`${a.url}/events`, { headers: { cookie: laptop } })).status, 401);
  assert.equal(await pageWith(a, phone, '/versions'), 'page', 'the other browser stays signed in');
  assert.equal((await a.api('/api/v1/machines', { token })).status, 200, 'the token still works for the API');
  assert.equal((await a.services.sessions.list()).length, 1, 'the row is gone');
});

test('revoking the token through the API ends every session signed in with it', async (t) => {
  const a = await testAnvil(t, { powerSync: false });
  const { token, record } = await a.services.tokens.create('operator', 'otto');
  const other = await a.services.tokens.create('viewer', 'vera');
  const one = await a.signIn(token);
  const two = await a.signIn(token);
  const vera = await a.signIn(other.token);
  assert.equal(await pageWith(a, one), 'page');

  assert.equal((await a.api(`/api/v1/tokens/${record.id}`, { method: 'DELETE' })).status, 204);
  assert.equal(await pageWith(a, one), signedOut());
  assert.equal(await pageWith(a, two), signedOut());
  assert.equal((await fetch(`${a.url}/events`, { headers: { cookie: two } })).status, 401);
  assert.equal(await pageWith(a, vera), 'page', "another token's session is untouched");
  assert.deepEqual(
    (await a.services.sessions.list()).map((s) => s.token_id),
    [other.record.id],
  );
});

test('an expired session is signed out, and signing in again replaces it', async (t) => {
  const a = await testAnvil(t, { powerSync: false });
  const cookie = await a.signIn();
  assert.equal(await pageWith(a, cookie), 'page');
  await a.services.store.db
    .updateTable('web_sessions')
    .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
    .execute();
  assert.equal(await pageWith(a, cookie, '/versions'), signedOut('/versions'));
  assert.equal((await fetch(`${a.url}/events`, { headers: { cookie } })).status, 401);

  // Signing in from a browser that still sends a cookie ends that session and makes a new one.
  const again = await fetch(`${a.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: a.token, next: '/versions' }).toString(),
  });
  assert.equal(again.headers.get('location'), '/versions');
  const fresh = again.headers.getSetCookie()[0]?.split(';')[0] ?? '';
  assert.notEqual(fresh, cookie);
  assert.equal(await pageWith(a, fresh, '/versions'), 'page');
  assert.equal((await a.services.sessions.list()).length, 1);
});

test('a browser still holding the old token cookie has it cleared on the sign-in page', async (t) => {
  const a = await testAnvil(t, { powerSync: false });
  const legacy = `anvil_token=${a.token}`;
  assert.equal(await pageWith(a, legacy), signedOut());
  const form = await fetch(`${a.url}/login?next=%2F`, { headers: { cookie: legacy } });
  assert.equal(form.status, 200);
  assert.match(form.headers.getSetCookie().join('\n'), /^anvil_token=; Max-Age=0; Path=\/;/m);
  const login = await fetch(`${a.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: legacy, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: a.token, next: '/' }).toString(),
  });
  const set = login.headers.getSetCookie();
  assert.ok(set.some((c) => /^anvil_token=; Max-Age=0;/.test(c)));
  assert.ok(set.some((c) => /^anvil_session=[A-Za-z0-9_-]{43};/.test(c)));
  // Without an old cookie nothing is cleared.
  assert.deepEqual((await fetch(`${a.url}/login`)).headers.getSetCookie(), []);
});

test('anvil token list counts the browsers signed in with each token, and token revoke signs them out', async () => {
  const data = tempDir();
  const databaseUrl = await testDatabaseUrl();
  const env = databaseUrl ? { ANVIL_DATABASE_URL: databaseUrl } : {};
  const services = await openServices({ data, databaseUrl });
  const otto = await services.tokens.create('operator', 'otto');
  const vera = await services.tokens.create('viewer', 'vera');
  const kept = await services.sessions.create(vera.record.id);
  await services.sessions.create(otto.record.id);
  await services.sessions.create(otto.record.id);
  await services.close();
  const list = async () => {
    const listed = await exec(ANVIL, ['token', 'list', '--json', '--data', data], env);
    assert.equal(listed.code, 0, listed.stderr);
    return (JSON.parse(listed.stdout) as Array<{ name: string; sessions: number }>).map((r) => [r.name, r.sessions]);
  };
  assert.deepEqual(await list(), [
    ['otto', 2],
    ['vera', 1],
  ]);
  const table = await exec(ANVIL, ['token', 'list', '--data', data], env);
  assert.match(table.stdout, /SESSIONS/);

  // One browser of otto's signed out from the command line, by the id `token sessions` lists.
  const sessions = await exec(ANVIL, ['token', 'sessions', '--json', '--data', data], env);
  assert.equal(sessions.code, 0, sessions.stderr);
  const listed = JSON.parse(sessions.stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(
    listed.map((r) => r.token),
    ['vera', 'otto', 'otto'],
  );
  assert.ok(
    listed.every((r) => !('hash' in r)),
    'no hashes printed',
  );
  const ended = await exec(ANVIL, ['token', 'end-session', String(listed[1]!.id), '--data', data], env);
  assert.equal(ended.code, 0, ended.stderr);
  assert.equal(ended.stdout, `ended page session ${listed[1]!.id}\n`);
  const again = await exec(ANVIL, ['token', 'end-session', String(listed[1]!.id), '--data', data], env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no page session with id \d+; see anvil token sessions/);
  assert.deepEqual(await list(), [
    ['otto', 1],
    ['vera', 1],
  ]);

  const revoked = await exec(ANVIL, ['token', 'revoke', String(otto.record.id), '--data', data], env);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal(revoked.stdout, `revoked token ${otto.record.id}; signed out its 1 page session\n`);
  assert.deepEqual(await list(), [['vera', 1]]);

  const after = await openServices({ data, databaseUrl });
  try {
    assert.deepEqual(
      (await after.sessions.list()).map((s) => s.id),
      [kept.record.id],
    );
  } finally {
    await after.close();
  }
});
