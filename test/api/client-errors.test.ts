// A client's mistakes are answered 4xx, saying what was wrong, and never logged as a server error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
});
