// Two `anvil serve` processes on one PostgreSQL database: a change made through process A's API
// (next boot, power) appears on process B's live feed (GET /events) by LISTEN/NOTIFY. B's
// poll of the tables is set to ten minutes here, so an update within the test's time came by
// notification; the time from A's answer to B's event is printed, not asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANVIL, PXEMNGR, exec, startServer, tempDir, type ServerProcess } from '../helpers/anvil-process.ts';
import { logged } from '../helpers/cluster.ts';
import { freshDatabase, havePostgres } from '../helpers/postgres.ts';
import { openServices } from '../../src/app/compose.ts';

/** Only catches a hang: a notification takes milliseconds. */
const SEEN_WITHIN_MS = 60_000;

interface Update {
  name: string;
  topics: string[];
  power: string;
  next: string;
}

/** The `machine` events of an open event stream, as they come. */
function updates(body: ReadableStream<Uint8Array>): () => Promise<Update> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return async () => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^event: machine\ndata: (.*)$/m.exec(frame);
        if (data) return JSON.parse(data[1]!) as Update;
        continue;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('the event stream ended');
      buffer += decoder.decode(value, { stream: true });
    }
  };
}

async function signIn(server: ServerProcess, token: string): Promise<string> {
  const login = await fetch(`${server.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, next: '/' }).toString(),
  });
  const pair = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0] ?? '')
    .find((c) => c.startsWith('anvil_session='));
  assert.ok(login.status === 303 && pair, `signing in answered ${login.status}`);
  return pair;
}

test('a change made through one anvil serve reaches the live feed of another at once (LISTEN/NOTIFY)', { timeout: 300_000 }, async (t) => {
  if (!havePostgres(t)) return;
  const url = await freshDatabase();
  const dirs = [tempDir(), tempDir()];
  const first = await openServices({ data: dirs[0], databaseUrl: url });
  await first.machines.add('srv1', ['52:54:00:00:30:01']);
  await first.control.configure('srv1', { driver: 'fake', driverInfo: {} });
  await first.close();
  for (const dir of dirs) {
    const profiles = join(dir, 'tftp/pxelinux.cfg/profiles');
    mkdirSync(profiles, { recursive: true });
    writeFileSync(join(profiles, 'local.prof'), 'DEFAULT local\nLABEL local\n  LOCALBOOT 0\n');
    writeFileSync(join(profiles, 'rescue.prof'), 'DEFAULT rescue\nLABEL rescue\n  KERNEL rescue\n');
  }
  const env = { ANVIL_DATABASE_URL: url, ANVIL_POWER_SYNC_INTERVAL: '0', ANVIL_CHANGE_POLL_INTERVAL: '600' };
  const synced = await exec(PXEMNGR, ['--data', dirs[0]!, 'syncbootnames'], env);
  assert.equal(synced.code, 0, synced.stderr);
  const a = await startServer(dirs[0]!, [], env);
  // One secret.key for the cluster (a made it at its start): b is refused with another.
  copyFileSync(join(dirs[0]!, 'secret.key'), join(dirs[1]!, 'secret.key'));
  const b = await startServer(dirs[1]!, [], env);
  t.after(() => a.stop());
  t.after(() => b.stop());
  await logged(b, /hearing the other anvil processes’ changes on the database/);
  const token = (await exec(ANVIL, ['token', 'create', '--role', 'operator', '--data', dirs[0]!], env)).stdout.trim();
  const api = (path: string, method: string, json: unknown) =>
    fetch(`${a.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(json) });

  const stream = new AbortController();
  t.after(() => stream.abort());
  const open = await fetch(`${b.url}/events`, { headers: { cookie: await signIn(b, token) }, signal: stream.signal });
  assert.equal(open.status, 200);
  const next = updates(open.body!);
  const seen = async (what: string, match: (u: Update) => boolean) => {
    const timer = setTimeout(() => stream.abort(), SEEN_WITHIN_MS);
    try {
      for (;;) {
        const update = await next().catch((error: unknown) => {
          throw new Error(`${what}: not on B's live feed within ${SEEN_WITHIN_MS} ms (${String(error)})`);
        });
        if (match(update)) return update;
      }
    } finally {
      clearTimeout(timer);
    }
  };

  const took: number[] = [];
  for (const profile of ['rescue', 'local', 'rescue', 'local', 'rescue']) {
    const sent = await api('/api/v1/machines/srv1/next-boot', 'PUT', { profile });
    assert.equal(sent.status, 200, await sent.text());
    const answered = performance.now();
    const update = await seen(`next boot ${profile}`, (u) => u.name === 'srv1' && u.topics.includes('next-boot') && u.next === profile);
    took.push(performance.now() - answered);
    assert.equal(update.next, profile);
  }
  const power = await api('/api/v1/machines/srv1/power', 'PUT', { target: 'on' });
  assert.equal(power.status, 200, await power.text());
  const answered = performance.now();
  await seen('power on', (u) => u.name === 'srv1' && u.topics.includes('power') && u.power === 'on');
  took.push(performance.now() - answered);
  t.diagnostic(`from A's answer to B's live event: ${took.map((ms) => `${Math.round(ms)} ms`).join(', ')} (B's poll every 600 s)`);
});
