// Bad input gets a clear error and loses nothing; the server keeps running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testAnvil } from '../helpers/anvil-inproc.ts';

async function sentRun(a: Awaited<ReturnType<typeof testAnvil>>, name = 'n1', mac = '52:54:00:00:00:01') {
  await a.services.machines.add(name, [mac]);
  const machine = await a.services.machines.find(name);
  const [run] = await a.services.testing.queue(machine, ['hello']);
  const response = await fetch(`${a.url}/nexttest/${mac}/`);
  assert.equal(response.headers.get('x-anvil-run'), String(run!.id));
  return run!.id;
}

test('an upload over the limit gets 413 and nothing is half-written', async (t) => {
  const a = await testAnvil(t, { uploadLimit: 100_000 });
  const runId = await sentRun(a);
  const form = new FormData();
  form.append('file', new Blob([Buffer.alloc(300_000, 0x41)]), 'big.log');
  const response = await fetch(`${a.url}/upload/${runId}/`, { method: 'POST', body: form });
  assert.equal(response.status, 413);
  assert.match(await response.text(), /larger than the limit of 100000 bytes; nothing was stored/);
  assert.deepEqual(readdirSync(join(a.data, 'uploads')), []);
  assert.equal((await a.services.testing.get(runId)).state, 'sent');
  // A raw-body upload over the limit too.
  const raw = await fetch(`${a.url}/upload/${runId}/`, {
    method: 'POST',
    body: Buffer.alloc(300_000),
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(raw.status, 413);
  assert.deepEqual(readdirSync(join(a.data, 'uploads')), []);
  // The run can still get its result.
  const ok = new FormData();
  ok.append('file', new Blob(['I: fine\n']), 'ok.log');
  assert.equal((await fetch(`${a.url}/upload/${runId}/`, { method: 'POST', body: ok })).status, 200);
});

test('binary and non-UTF-8 uploads are stored byte for byte and parsed safely', async (t) => {
  const a = await testAnvil(t);
  const runId = await sentRun(a);
  const bytes = Buffer.concat([Buffer.from('E: bad \xff\xfe byte\n', 'latin1'), Buffer.from([0, 1, 2, 0xc3, 0x28]), Buffer.from('\nI: after <b>\n')]);
  const response = await fetch(`${a.url}/upload/${runId}/`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(response.status, 200, await response.text());
  assert.deepEqual(readFileSync(join(a.data, 'uploads', `${runId}.log`)), bytes);
  const run = (await (await a.api(`/api/v1/runs/${runId}`)).json()) as { errors: number; infos: number; lines: Array<{ text: string }> };
  assert.equal(run.errors, 1);
  assert.equal(run.infos, 1);
  assert.equal(run.lines[1]!.text, 'after <b>');
});

test('uploads that are not a file, or to an unknown or unsent run, are refused clearly', async (t) => {
  const a = await testAnvil(t);
  const runId = await sentRun(a);
  const wrongField = new FormData();
  wrongField.append('log', new Blob(['x']), 'x');
  let r = await fetch(`${a.url}/upload/${runId}/`, { method: 'POST', body: wrongField });
  assert.equal(r.status, 400);
  assert.match(await r.text(), /field "log"; send it as "file"/);
  r = await fetch(`${a.url}/upload/999/`, { method: 'POST', body: 'x', headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 404);
  assert.match(await r.text(), /no test run 999/);
  r = await fetch(`${a.url}/upload/abc/`, { method: 'POST', body: 'x', headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 400);
  const machine = await a.services.machines.find('n1');
  const [queued] = await a.services.testing.queue(machine, ['hello']);
  r = await fetch(`${a.url}/upload/${queued!.id}/`, { method: 'POST', body: 'x', headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 409);
  assert.match(await r.text(), /has not been sent yet/);
});

test('concurrent nexttest calls never hand out one run twice, and one run takes one upload', async (t) => {
  const a = await testAnvil(t);
  await a.services.machines.add('busy', ['52:54:00:00:00:09']);
  const machine = await a.services.machines.find('busy');
  const queued = await a.services.testing.queue(
    machine,
    Array.from({ length: 40 }, () => 'hello'),
  );
  const responses = await Promise.all(Array.from({ length: 100 }, () => fetch(`${a.url}/nexttest/52:54:00:00:00:09/`)));
  const runs = responses.map((r) => r.headers.get('x-anvil-run')).filter((r): r is string => r !== null);
  assert.equal(runs.length, 40);
  assert.equal(new Set(runs).size, 40);
  assert.deepEqual(
    runs.map(Number).sort((x, y) => x - y),
    queued.map((r) => r.id),
  );
  const target = runs[0]!;
  const uploads = await Promise.all(
    Array.from({ length: 8 }, (_, i) => {
      const form = new FormData();
      form.append('file', new Blob([`I: upload ${i}\n`]), 'r.log');
      return fetch(`${a.url}/upload/${target}/`, { method: 'POST', body: form });
    }),
  );
  assert.deepEqual(uploads.map((u) => u.status).sort(), [200, 409, 409, 409, 409, 409, 409, 409]);
  const lines = await a.services.testing.lines(Number(target));
  assert.equal(lines.length, 1);
  assert.equal(readdirSync(join(a.data, 'uploads')).filter((f) => f.startsWith('.')).length, 0);
});

test('a template that would render forever is cut by the render limits', async (t) => {
  const a = await testAnvil(
    t,
    {},
    { tests: { 'wait.test': 'sleep 1\n', 'forever.test': '{% for i in (1..100000000) %}{% for j in (1..100000000) %}x{% endfor %}{% endfor %}\n' } },
  );
  await a.services.machines.add('n1', ['52:54:00:00:00:01']);
  const [run] = await a.services.testing.queue(await a.services.machines.find('n1'), ['forever']);
  const started = Date.now();
  const r = await fetch(`${a.url}/nexttest/52:54:00:00:00:01/`);
  assert.ok(r.status >= 500 && r.status < 600);
  assert.match(await r.text(), /cannot render forever\.test/);
  assert.ok(Date.now() - started < 30_000);
  const failed = await a.services.testing.get(run!.id);
  assert.equal(failed.state, 'error');
  assert.match(failed.error_reason ?? '', /forever\.test/);
  // The server is still up and answers the next request.
  assert.equal((await fetch(`${a.url}/profile/52:54:00:00:00:01/`)).status, 200);
});

test('a template with a syntax error is reported with file and line and skipped; the rest sync', async (t) => {
  const a = await testAnvil(t, {}, { tests: { 'wait.test': 'sleep 1\n', 'good.test': 'echo ok\n', 'bad.test': 'echo 1\necho 2\n{% if x %}\necho 3\n' } });
  const r = await a.api('/api/v1/tests/sync', { method: 'POST' });
  const report = (await r.json()) as { problems: string[]; kept: string[]; added: string[] };
  assert.deepEqual([...report.added, ...report.kept].sort(), ['good', 'wait']);
  assert.equal(report.problems.length, 1);
  assert.match(report.problems[0]!, /bad\.test:3: tag \{% if x %\} not closed/);
});

test('the watchdog turns a run sent and never uploaded into an error', async (t) => {
  const a = await testAnvil(t, { runTimeoutMs: 1000 });
  const runId = await sentRun(a);
  const deadline = Date.now() + 15_000;
  let state = 'sent';
  while (state === 'sent' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    state = (await a.services.testing.get(runId)).state;
  }
  const run = await a.services.testing.get(runId);
  assert.equal(run.state, 'error');
  assert.match(run.error_reason ?? '', /no result uploaded within 1 s/);
  // A late result is still accepted.
  const form = new FormData();
  form.append('file', new Blob(['I: late\n']), 'r.log');
  assert.equal((await fetch(`${a.url}/upload/${runId}/`, { method: 'POST', body: form })).status, 200);
  assert.equal((await a.services.testing.get(runId)).state, 'done');
});

test('unknown profiles and tests are refused with the known ones; MACs are checked', async (t) => {
  const a = await testAnvil(t);
  let r = await a.api('/api/v1/machines', { method: 'POST', json: { name: 'm1', macs: ['AABBCCDDEEFF'] } });
  assert.equal(r.status, 201);
  r = await a.api('/api/v1/machines', { method: 'POST', json: { name: 'm2', macs: ['aa-bb-cc-dd-ee-ff'] } });
  assert.equal(r.status, 409);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /already belongs to machine 'm1'/);
  r = await a.api('/api/v1/machines', { method: 'POST', json: { name: 'm3', macs: ['not-a-mac'] } });
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /'not-a-mac' is not a MAC address/);
  r = await a.api('/api/v1/machines/m1/next-boot', { method: 'PUT', json: { profile: 'windows' } });
  assert.equal(r.status, 404);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /unknown profile 'windows'; known profiles: install and local/);
  r = await a.api('/api/v1/machines/m1/runs', { method: 'POST', json: { tests: ['hello', 'nope'] } });
  assert.equal(r.status, 404);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /unknown test 'nope'; known tests: hello/);
  r = await a.api('/api/v1/machines', { method: 'POST', body: '{"name": ', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400);
  assert.equal((await a.services.machines.list()).length, 1);
});
