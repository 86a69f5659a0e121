// A client's mistakes are answered 4xx, saying what was wrong, and never logged as a server error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { LOG_LEVEL, LogCapture } from '../helpers/log-capture.ts';

test('a query key given twice on a machine-facing URL is a 400 naming the key', async (t) => {
  const log = new LogCapture();
  const a = await testAnvil(t, { logLevel: 'info', logStream: log });
  await a.services.machines.add('n1', ['52:54:00:00:00:01']);
  for (const path of ['/boot.ipxe?mac=52:54:00:00:00:01&mac=x', '/boot/52:54:00:00:00:01?arch=a&arch=b', '/profile/?mac=1&mac=2']) {
    const response = await fetch(`${a.url}${path}`);
    const body = await response.text();
    assert.equal(response.status, 400, `${path}: ${body}`);
    assert.match(body, /gives '(mac|arch)' more than once/);
  }
  // Once is fine.
  assert.equal((await fetch(`${a.url}/boot.ipxe?mac=52:54:00:00:00:01`)).status, 200);
  assert.deepEqual(log.atLeast(LOG_LEVEL.error), []);
  // What a client sent is logged cut short: an 8 KB arch keeps its first 64 characters and its length.
  const arch = 'x'.repeat(8192);
  for (const mac of ['52:54:00:00:00:01', '52:54:00:00:00:77']) assert.equal((await fetch(`${a.url}/boot/${mac}?arch=${arch}`)).status, 200);
  const served = log.lines.filter((line) => typeof line.arch === 'string' && line.arch.startsWith('xxxx'));
  assert.equal(served.length, 2);
  for (const line of served) assert.equal(line.arch, `${'x'.repeat(64)}… (8192 bytes)`);
});

test('a multipart upload cut short, or without a boundary, is a 400 saying so, and nothing is stored', async (t) => {
  const log = new LogCapture();
  const a = await testAnvil(t, { logLevel: 'info', logStream: log });
  await a.services.machines.add('n1', ['52:54:00:00:00:01']);
  const machine = await a.services.machines.find('n1');
  const [run] = await a.services.testing.queue(machine, ['hello']);
  assert.equal((await fetch(`${a.url}/nexttest/52:54:00:00:00:01/`)).status, 200);
  const url = `${a.url}/upload/${run!.id}/`;
  const boundary = '----anvil-test-boundary';
  const head = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="out.log"\r\ncontent-type: text/plain\r\n\r\n`;
  const cases: Array<[string, string, string, RegExp]> = [
    ['cut short', `multipart/form-data; boundary=${boundary}`, `${head}I: half a line`, /multipart body ends before its closing boundary/],
    ['no boundary', 'multipart/form-data', `${head}I: fine\r\n--${boundary}--\r\n`, /multipart upload has no boundary/],
    ['cut in the headers', `multipart/form-data; boundary=${boundary}`, `--${boundary}\r\ncontent-disp`, /multipart body ends before its closing boundary/],
  ];
  for (const [what, type, body, message] of cases) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
    const text = await response.text();
    assert.equal(response.status, 400, `${what}: ${text}`);
    assert.match(text, message, what);
  }
  assert.deepEqual(readdirSync(join(a.data, 'uploads')), []);
  assert.equal((await a.services.testing.get(run!.id)).state, 'sent');
  assert.deepEqual(log.atLeast(LOG_LEVEL.error), []);
  // A whole body still goes in.
  const whole = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: `${head}I: fine\r\n--${boundary}--\r\n`,
  });
  assert.equal(whole.status, 200, await whole.text());
});
