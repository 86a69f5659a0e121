// Test output read off a QEMU demo machine's serial console.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsoleRunReader, resultOf } from './console-results.ts';
import type { ConsoleRun } from './console-results.ts';

test('a BEGIN..END block split across chunks, with CRLF and escapes, is one run; output outside blocks is ignored', () => {
  const runs: ConsoleRun[] = [];
  const reader = new ConsoleRunReader((r) => runs.push(r));
  reader.push('\x1b[2JiPXE 1.0\r\nanvil-init: lease 10.0.2.15\r\nANVIL-RUN-BEG');
  reader.push('IN 52:54:00:de:00:01\r\nI: hello from demo-01\r\nE: disk');
  assert.equal(runs.length, 0);
  reader.push(' gone\r\nANVIL-RUN-END 52:54:00:de:00:01 status 3\r\nANVIL-TINY-LINUX-OK\r\n');
  assert.deepEqual(runs, [{ mac: '52:54:00:de:00:01', output: 'I: hello from demo-01\nE: disk gone\n', status: 3 }]);
  assert.equal(resultOf(runs[0]!), 'I: hello from demo-01\nE: disk gone\nE: test script exited with status 3\n');
});

test('wait.test prints nothing: an empty run; an END without its BEGIN is no run', () => {
  const runs: ConsoleRun[] = [];
  const reader = new ConsoleRunReader((r) => runs.push(r));
  reader.push('ANVIL-RUN-END 52:54:00:de:00:01 status 0\nANVIL-RUN-BEGIN m\nANVIL-RUN-END m status 0\n');
  assert.deepEqual(runs, [{ mac: 'm', output: '', status: 0 }]);
  assert.equal(resultOf(runs[0]!), '');
});
