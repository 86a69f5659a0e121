import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeMessage, encodeCommand, QmpLineSplitter } from './codec.ts';
import { QmpDecodeError } from './errors.ts';

// A session captured from QEMU 7.2 (Debian 12): greeting, capabilities, query-status, an
// unknown command, system_reset, stop, quit. QEMU ends lines with CRLF.
const session = readFileSync(new URL('./testdata/qemu-7.2-session.jsonl', import.meta.url), 'utf8');

test('the captured session splits into lines and decodes into typed messages', () => {
  const lines = new QmpLineSplitter().push(session);
  assert.equal(lines.length, 12);
  const messages = lines.map(decodeMessage);
  assert.deepEqual(messages[0], {
    kind: 'greeting',
    version: { major: 7, minor: 2, micro: 22, package: 'Debian 1:7.2+dfsg-7+deb12u18+b3' },
    capabilities: ['oob'],
  });
  assert.deepEqual(messages[1], { kind: 'return', id: 1, value: {} });
  assert.deepEqual(messages[2], { kind: 'return', id: 2, value: { status: 'running', singlestep: false, running: true } });
  assert.deepEqual(messages[3], { kind: 'error', id: 3, errorClass: 'CommandNotFound', desc: 'The command no-such-command has not been found' });
  assert.deepEqual(messages[4], {
    kind: 'event',
    event: 'RESET',
    data: { guest: false, reason: 'host-qmp-system-reset' },
    timestampMicros: 1795240609_790276,
  });
  assert.deepEqual(messages[8], { kind: 'event', event: 'STOP', data: {}, timestampMicros: 1795240610_289146 });
  const shutdown = messages[10];
  assert.equal(shutdown?.kind, 'event');
  assert.equal(shutdown.kind === 'event' && shutdown.event, 'SHUTDOWN');
  assert.deepEqual(shutdown.kind === 'event' && shutdown.data, { guest: false, reason: 'host-qmp-quit' });
});

test('a line split across chunks waits for its end; CR is dropped; blank lines are skipped', () => {
  const splitter = new QmpLineSplitter();
  assert.deepEqual(splitter.push('{"return": {}, '), []);
  assert.deepEqual(splitter.push('"id": 7}\r'), []);
  assert.deepEqual(splitter.push('\n\r\n{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}\r\n{"ret'), [
    '{"return": {}, "id": 7}',
    '{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}',
  ]);
  assert.deepEqual(splitter.push('urn": 1}\n'), ['{"return": 1}']);
});

test('a line over the limit is an error, and the splitter recovers for the next line', () => {
  const splitter = new QmpLineSplitter(16);
  assert.throws(
    () => splitter.push('{"return": "' + 'x'.repeat(32)),
    (e: unknown) => e instanceof QmpDecodeError && e.code === 'QMP_DECODE',
  );
  assert.deepEqual(splitter.push('\n{"return": 2}\n'), ['{"return": 2}']);
});

test('not JSON, not an object, or of no known kind: QmpDecodeError', () => {
  for (const line of ['{"return": ', '[1, 2]', '"QMP"', '{"hello": 1}', '{"event": 5}', '{"error": "boom"}', '{"QMP": {}}']) {
    assert.throws(
      () => decodeMessage(line),
      (e: unknown) => e instanceof QmpDecodeError && e.code === 'QMP_DECODE',
      line,
    );
  }
});

test('an error without a class is a GenericError; ids may be strings', () => {
  assert.deepEqual(decodeMessage('{"error": {"desc": "no"}, "id": "a"}'), { kind: 'error', id: 'a', errorClass: 'GenericError', desc: 'no' });
});

test('commands serialize as one line with the id; empty arguments are left out', () => {
  assert.equal(encodeCommand('qmp_capabilities', undefined, 1), '{"execute":"qmp_capabilities","id":1}\n');
  assert.equal(encodeCommand('query-status', {}, 2), '{"execute":"query-status","id":2}\n');
  assert.equal(
    encodeCommand('human-monitor-command', { 'command-line': 'info roms' }, 3),
    '{"execute":"human-monitor-command","arguments":{"command-line":"info roms"},"id":3}\n',
  );
});
