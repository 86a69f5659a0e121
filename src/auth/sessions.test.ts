import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { testStore } from '../../test/helpers/database.ts';
import { Tokens } from './tokens.ts';
import { SESSION_MAX_AGE_S, SESSION_TOUCH_INTERVAL_S, WebSessions } from './sessions.ts';

async function setup(t: { after(fn: () => unknown): void }) {
  const { db } = await testStore(t);
  let now = new Date(Date.UTC(2026, 11, 3, 9, 0, 0));
  const clock = () => now;
  const advance = (seconds: number) => {
    now = new Date(now.getTime() + seconds * 1000);
  };
  return { db, tokens: new Tokens(db, clock), sessions: new WebSessions(db, clock), advance };
}

test('a session is made for a token, found by its cookie id, and stored only as a hash, on every backend', async (t) => {
  const { db, tokens, sessions } = await setup(t);
  const { token, record } = await tokens.create('operator', 'alice');
  const { id, record: session } = await sessions.create(record.id);
  assert.match(id, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  assert.notEqual(id, token);
  assert.ok(!id.includes(token) && !token.includes(id));
  assert.equal(session.token_id, record.id);
  assert.equal(Date.parse(session.expires_at) - Date.parse(session.created_at), SESSION_MAX_AGE_S * 1000);

  const stored = await db.selectFrom('web_sessions').selectAll().execute();
  assert.equal(stored.length, 1);
  assert.equal(stored[0]?.hash, createHash('sha256').update(id).digest('hex'));
  assert.ok(!JSON.stringify(stored).includes(id), 'the id itself is never stored');

  const found = await sessions.lookup(id);
  assert.equal(found?.token.id, record.id);
  assert.equal(found?.token.name, 'alice');
  assert.equal(found?.token.role, 'operator');
  assert.equal(found?.session.id, session.id);

  const other = await sessions.create(record.id);
  assert.notEqual(other.id, id, 'each sign-in has an id of its own');
  assert.equal((await sessions.list(record.id)).length, 2);
});

test('unknown, malformed and API-token cookies are no session', async (t) => {
  const { tokens, sessions } = await setup(t);
  const { token, record } = await tokens.create('admin');
  const { id } = await sessions.create(record.id);
  assert.equal(await sessions.lookup(token), undefined, 'the API token is not a session id');
  assert.equal(await sessions.lookup(`${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}`), undefined);
  for (const bad of ['', 'x', `${id}x`, id.slice(1), `${id.slice(0, -1)}.`]) assert.equal(await sessions.lookup(bad), undefined, bad);
  assert.ok(await sessions.lookup(id));
});

test('a session ends when it expires, and last_seen_at follows use without a write per page', async (t) => {
  const { tokens, sessions, advance } = await setup(t);
  const { record } = await tokens.create('viewer');
  const { id, record: made } = await sessions.create(record.id);

  advance(SESSION_TOUCH_INTERVAL_S / 2);
  assert.equal((await sessions.lookup(id))?.session.last_seen_at, made.last_seen_at, 'not rewritten within the interval');
  advance(SESSION_TOUCH_INTERVAL_S);
  const seen = (await sessions.lookup(id))?.session.last_seen_at;
  assert.ok(seen !== undefined && seen > made.last_seen_at, 'rewritten once the interval passed');
  assert.equal((await sessions.list())[0]?.last_seen_at, seen, 'and stored');

  advance(SESSION_MAX_AGE_S - 1.5 * SESSION_TOUCH_INTERVAL_S - 1);
  assert.ok(await sessions.lookup(id), 'a second before it expires');
  advance(1);
  assert.equal(await sessions.lookup(id), undefined, 'expired: signed out');
  assert.deepEqual(await sessions.list(), []);

  // The next sign-in clears expired rows away.
  const fresh = await sessions.create(record.id);
  assert.deepEqual(
    (await sessions.list()).map((s) => s.id),
    [fresh.record.id],
  );
});

test('signing out ends that session only', async (t) => {
  const { tokens, sessions } = await setup(t);
  const { token, record } = await tokens.create('operator');
  const laptop = await sessions.create(record.id);
  const phone = await sessions.create(record.id);
  assert.equal(await sessions.end(laptop.id), true);
  assert.equal(await sessions.lookup(laptop.id), undefined);
  assert.equal(await sessions.end(laptop.id), false, 'already gone');
  assert.equal(await sessions.end('not-a-session'), false);
  const tablet = await sessions.create(record.id);
  await sessions.endById(tablet.record.id);
  assert.equal(await sessions.lookup(tablet.id), undefined, 'ended by its row id, from outside the browser');
  await assert.rejects(sessions.endById(tablet.record.id), { code: 'UNKNOWN_SESSION' });
  assert.ok(await sessions.lookup(phone.id), 'the other browser stays signed in');
  assert.ok(await tokens.verify(token), 'and the token still works');
});

test('revoking a token ends all its sessions and no other', async (t) => {
  const { db, tokens, sessions } = await setup(t);
  const alice = await tokens.create('operator', 'alice');
  const bob = await tokens.create('viewer', 'bob');
  const a1 = await sessions.create(alice.record.id);
  const a2 = await sessions.create(alice.record.id);
  const b1 = await sessions.create(bob.record.id);

  await tokens.revoke(alice.record.id);
  assert.equal(await sessions.lookup(a1.id), undefined);
  assert.equal(await sessions.lookup(a2.id), undefined);
  assert.equal((await db.selectFrom('web_sessions').select('token_id').execute()).length, 1, 'the rows are gone, not just unusable');
  assert.equal((await sessions.lookup(b1.id))?.token.name, 'bob');

  assert.equal(await sessions.endAllOf(bob.record.id), 1);
  assert.equal(await sessions.lookup(b1.id), undefined);
  assert.ok(await tokens.verify(bob.token), 'ending the sessions leaves the token');
});
