// Image files in a cluster: two `anvil serve` processes on one PostgreSQL database, each with a
// data directory of its own. An image uploaded through A is a shared row and a file in A's
// library; B, asked for it (the API's download, a deploy's agent through B), reads it from A with
// the caller's own credentials and passes it on. Only the live agent token gets it; with A
// stopped, or A's file gone, B answers 503 naming A and what to do; nothing is lost meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ANVIL, exec, startServer, tempDir } from '../helpers/anvil-process.ts';
import { logEntries, until } from '../helpers/cluster.ts';
import { freshDatabase, havePostgres } from '../helpers/postgres.ts';
import { answerFields, fakeAgentBuild } from '../helpers/agent-server.ts';

const MIB = 1024 * 1024;
const MAC = '52:54:00:9c:00:01';

const fields = (text: string) =>
  Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('an image uploaded through one anvil serve is read through another: the API download and a deploy agent’s stream', { timeout: 300_000 }, async (t) => {
  if (!havePostgres(t)) return;
  const url = await freshDatabase();
  const dirs = [tempDir('anvil-images-a-'), tempDir('anvil-images-b-')] as const;
  const agentBuild = fakeAgentBuild('anvil-images-agent-');
  const env = { ANVIL_DATABASE_URL: url, ANVIL_POWER_SYNC_INTERVAL: '0', ANVIL_AGENT_BUILD: agentBuild };
  const made = await exec(ANVIL, ['token', 'create', '--role', 'admin', '--data', dirs[0]], env);
  assert.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim();
  const a = await startServer(dirs[0], [], env);
  // One secret.key for the cluster, A's since its first start (README: Running a cluster): B opens what A sealed.
  copyFileSync(join(dirs[0], 'secret.key'), join(dirs[1], 'secret.key'));
  let aRunning = true;
  t.after(() => (aRunning ? a.stop() : undefined));
  const b = await startServer(dirs[1], [], env);
  t.after(() => b.stop());
  // A third data directory with a key of its own is refused before it serves, saying what to copy.
  await assert.rejects(
    startServer(tempDir('anvil-images-c-'), [], env),
    /exited with 1[\s\S]*secret\.key is not the key the other anvil processes on this database seal secrets with[\s\S]*copy secret\.key from the data directory of one of them/,
  );
  const auth = { authorization: `Bearer ${token}` };

  const disk = randomBytes(3 * MIB + 17);
  const put = await fetch(`${a.url}/api/v1/images/disk`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: disk });
  assert.equal(put.status, 201, await put.text());
  assert.deepEqual(readdirSync(join(dirs[1], 'images')), [], "B's library holds no file of its own");

  // The API's download through B: A's bytes, and B says where it read them.
  const got = await fetch(`${b.url}/api/v1/images/disk/content`, { headers: auth });
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-length'), String(disk.length));
  assert.equal(sha256(new Uint8Array(await got.arrayBuffer())), sha256(disk));
  assert.ok(
    logEntries(b).some((e) => e.msg === 'image read from the process that holds it' && e.from === a.url),
    'B logs that it read the image from A',
  );
  // B lists it with A's figures (get_image_size), and refuses a download without credentials itself.
  const shown = (await (await fetch(`${b.url}/api/v1/images/disk`, { headers: auth })).json()) as { diskUsage: number; sha256: string };
  assert.equal(shown.sha256, sha256(disk));
  assert.ok(shown.diskUsage >= disk.length, `disk usage ${shown.diskUsage}`);
  assert.equal((await fetch(`${b.url}/api/v1/images/disk/content`)).status, 401);

  // A deploy through B; its agent talks to B only.
  const api = (path: string, method: string, json: unknown) =>
    fetch(`${b.url}/api/v1${path}`, { method, headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(json) });
  assert.equal((await api('/machines', 'POST', { name: 'm1', macs: [MAC] })).status, 201);
  assert.equal((await api('/machines/m1', 'PATCH', { driver: 'fake' })).status, 200);
  const deploy = await api('/machines/m1/provision', 'PUT', { target: 'deploy', image: 'disk' });
  assert.equal(deploy.status, 202, await deploy.text());
  const agentToken = await until('the agent boot answer', 120_000, async () => {
    const script = await (await fetch(`${b.url}/boot/${MAC}`)).text();
    return /anvil\.token=(\S+)/.exec(script)?.[1];
  });
  const hello = await fetch(`${b.url}/agent/v1/hello`, {
    method: 'POST',
    headers: { 'x-anvil-token': agentToken },
    body: `mac=${MAC}\ndisk=vda\ndisk.vda.size=${64 * MIB}\nkernel=6.1\nagent=1\n`,
  });
  const answer = answerFields(await hello.text());
  assert.equal(answer.action, 'deploy', JSON.stringify(answer));
  assert.equal(answer.image_url, `${b.url}/agent/v1/image`);
  const streamed = await fetch(answer.image_url!, { headers: { 'x-anvil-token': agentToken } });
  assert.equal(streamed.status, 200);
  assert.equal(sha256(new Uint8Array(await streamed.arrayBuffer())), sha256(disk));
  // Another token gets nothing from B, nor from A through B.
  for (const bad of ['anvilagent_wrong', agentToken.slice(0, -1)])
    assert.equal((await fetch(`${b.url}/agent/v1/image`, { headers: { 'x-anvil-token': bad } })).status, 403);

  // A stopped: B answers 503 naming A and what to do; the row stays.
  await a.stop();
  aRunning = false;
  const away = await fetch(`${b.url}/agent/v1/image`, { headers: { 'x-anvil-token': agentToken } });
  assert.equal(away.status, 503);
  // Machine-facing routes answer in plain text, for the agent's log.
  assert.match(await away.text(), new RegExp(`${a.url.replace(/[.:/]/g, '\\$&')}: ECONNREFUSED.*start that process again, or upload the image again`));
  assert.equal((await fetch(`${b.url}/api/v1/images/disk`, { headers: auth })).status, 200);

  // A back with its file gone: A says so, and B passes it on.
  for (const f of readdirSync(join(dirs[0], 'images'))) if (f.startsWith('disk-')) rmSync(join(dirs[0], 'images', f));
  const again = await startServer(dirs[0], ['--http', a.url.replace('http://', '')], env);
  t.after(() => again.stop());
  const missing = await fetch(`${b.url}/api/v1/images/disk/content`, { headers: auth });
  assert.equal(missing.status, 503);
  const missingError = ((await missing.json()) as { error: { code: string; message: string } }).error;
  assert.equal(missingError.code, 'IMAGE_UNAVAILABLE');
  assert.match(missingError.message, /HTTP 404 IMAGE_FILE_MISSING/);
  const onA = await fetch(`${again.url}/api/v1/images/disk/content`, { headers: auth });
  assert.equal(onA.status, 503);
  const onAError = ((await onA.json()) as { error: { code: string; message: string } }).error;
  assert.equal(onAError.code, 'IMAGE_FILE_MISSING');
  assert.match(onAError.message, /not in this data directory; upload it again \(anvil image delete disk/);
});
