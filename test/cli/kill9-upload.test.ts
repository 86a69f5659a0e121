// kill -9 of `anvil serve` in the middle of two uploads at once: an image streamed to
// PUT /api/v1/images/<name> and a test result streamed pxemngr-style (curl -F) to
// /upload/<run>/. The crash leaves their temp files; the next start removes them and says so in
// its log, the database is whole, neither half-sent upload became an image or a result, and
// both can simply be sent again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request, type ClientRequest } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PXEMNGR, exec, startServer, tempDir, type ServerProcess } from '../helpers/anvil-process.ts';
import { adminToken, assertDatabaseWhole, killHard, logLines, tempBytes, tempFiles, waitUntil } from '../helpers/kill9.ts';

const MIB = 1024 * 1024;
const MAC = '52:54:00:9a:00:01';
/** Each upload is cut once this much of it is on the server's disk. */
const KILL_AT = 4 * MIB;
/** …and never sends more than this before the kill, so neither can finish first however late the kill comes. */
const SEND_CAP = 24 * MIB;
/** What each upload says it will send: more than it does. */
const DECLARED = 48 * MIB;
/** Generous: only a hang reaches it. */
const TIMEOUT_MS = 300_000;

/**
 * Sends `head`, then `chunk` again and again (one every few ms, so the upload is still flowing
 * when the kill comes) until SEND_CAP, then holds the request open. Resolves when the
 * connection ends, with what was written.
 */
function streamUpload(req: ClientRequest, head: Buffer, chunk: Buffer): Promise<{ sent: number; error: string }> {
  return new Promise((resolve) => {
    let sent = 0;
    let done = false;
    const finish = (error: string) => {
      if (done) return;
      done = true;
      resolve({ sent, error });
    };
    req.on('error', (error) => finish((error as NodeJS.ErrnoException).code ?? error.message));
    req.on('close', () => finish('closed'));
    req.on('response', (res) => {
      res.resume();
      finish(`answered ${res.statusCode}`);
    });
    req.write(head);
    const pump = () => {
      if (done || sent >= SEND_CAP) return;
      sent += chunk.length;
      if (req.write(chunk)) setTimeout(pump, 5);
      else req.once('drain', pump);
    };
    pump();
  });
}

function setUpData(): string {
  const data = tempDir('anvil-kill9-upload-');
  mkdirSync(join(data, 'tests'), { recursive: true });
  writeFileSync(join(data, 'tests/wait.test'), 'sleep 5\n');
  writeFileSync(join(data, 'tests/long.test'), '#!/bin/sh\nyes "I: still going" | head -n 10000000\n');
  return data;
}

async function ok(file: string, args: string[]): Promise<string> {
  const result = await exec(file, args);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

test('kill -9 mid-upload (an image and a run result): the restart sweeps the temp files, logs them, and nothing half-sent is visible', {
  timeout: TIMEOUT_MS,
}, async (t) => {
  const data = setUpData();
  const token = await adminToken(data);
  await ok(PXEMNGR, ['--data', data, 'synctestnames']);
  await ok(PXEMNGR, ['--data', data, 'addsystem', 'node1', MAC]);
  const [queued] = JSON.parse(await ok(PXEMNGR, ['--data', data, '--json', 'nexttest', 'node1', 'long'])) as Array<{ id: number }>;
  const runId = queued!.id;

  let server: ServerProcess = await startServer(data);
  t.after(() => server.stop());
  const base = new URL(server.url);
  // The machine asks for its next test: the run is sent, and waits for its result.
  const next = await fetch(`${server.url}/nexttest/${MAC}/`);
  assert.equal(next.status, 200);
  assert.equal(next.headers.get('x-anvil-run'), String(runId));

  const imageUpload = request({
    host: base.hostname,
    port: base.port,
    method: 'PUT',
    path: '/api/v1/images/half-sent',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': DECLARED },
  });
  const boundary = `----anvil-kill9-${randomBytes(6).toString('hex')}`;
  const partHead = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="output"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const runUpload = request({
    host: base.hostname,
    port: base.port,
    method: 'POST',
    path: `/upload/${runId}/`,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': partHead.length + DECLARED + boundary.length + 8 },
  });
  const lines = Buffer.from('I: still going\n'.repeat(Math.ceil((256 * 1024) / 15)));
  const uploads = [streamUpload(imageUpload, Buffer.alloc(0), randomBytes(256 * 1024)), streamUpload(runUpload, partHead, lines)];

  const before = await waitUntil('both uploads under way on disk', TIMEOUT_MS / 2, () => {
    const images = tempBytes(data, 'images');
    const runs = tempBytes(data, 'uploads');
    return images >= KILL_AT && runs >= KILL_AT ? { images, runs } : undefined;
  });
  await killHard(server);
  const ends = await Promise.all(uploads);
  for (const end of ends) assert.ok(end.sent < DECLARED && !end.error.startsWith('answered'), `the upload was cut, not answered: ${JSON.stringify(end)}`);
  const left = tempFiles(data);
  t.diagnostic(`on disk at the kill: image ${before.images} bytes, run result ${before.runs} bytes; temp files the crash left: ${left.length}`);
  assert.equal(left.length, 2, `the crash left both temp files: ${left.join(', ')}`);
  assertDatabaseWhole(data, 'after the kill');

  server = await startServer(data);
  const swept = logLines(server.logs(), /temp file\(s\)/);
  assert.equal(swept.length, 1, server.logs());
  const line = swept[0]!;
  assert.deepEqual([line.files, line.uploads, line.images], [2, 1, 1], JSON.stringify(line));
  assert.ok(Number(line.bytes) >= before.images + before.runs, `the log counts at least the bytes seen at the kill: ${JSON.stringify(line)}`);
  assert.match(String(line.msg), new RegExp(`removed 2 temp file\\(s\\), ${line.bytes} bytes, a crash left behind`));
  const after = tempFiles(data);
  t.diagnostic(`temp files after the restart: ${after.length}; the log: ${line.msg}`);
  assert.deepEqual(after, []);

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
  assert.equal((await api('/images/half-sent')).status, 404, 'no image of the half-sent upload');
  assert.deepEqual(await (await api('/images')).json(), []);
  const run = (await (await api(`/runs/${runId}`)).json()) as { state: string; upload_bytes: number | null; lines: unknown[] };
  assert.deepEqual([run.state, run.upload_bytes, run.lines.length], ['sent', null, 0], 'the run still waits for its result');
  assert.equal((await api(`/runs/${runId}/log`)).status, 404, 'no result file of the half-sent upload');

  // Both are sent again, whole, and land.
  const image = randomBytes(2 * MIB);
  const put = await api('/images/half-sent', { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(image) });
  assert.equal(put.status, 201, await put.clone().text());
  const form = new FormData();
  form.append('file', new Blob(['I: booted\nV: 1.2\nW: slow disk\n']), 'output');
  const upload = await fetch(`${server.url}/upload/${runId}/`, { method: 'POST', body: form });
  assert.equal(upload.status, 200, await upload.clone().text());
  const done = (await (await api(`/runs/${runId}`)).json()) as { state: string; infos: number; warnings: number };
  assert.deepEqual([done.state, done.infos, done.warnings], ['done', 1, 1]);

  assert.equal(await server.stop(), 0);
  assertDatabaseWhole(data, 'after the restart');
  assert.deepEqual(tempFiles(data), []);
  rmSync(data, { recursive: true, force: true });
});
