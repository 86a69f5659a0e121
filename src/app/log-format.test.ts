import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prettyLine } from './log-format.ts';

test('a pino record reads as one line: time, level, message, fields', () => {
  const line = prettyLine(
    JSON.stringify({
      level: 40,
      time: Date.UTC(2026, 11, 2, 12, 3, 4),
      pid: 1,
      hostname: 'h',
      msg: 'tftp refused',
      tftp: 'x.bin',
      client: '10.0.0.5',
      error: 'File not found',
    }),
  );
  assert.equal(line, '12:03:04 WARN  tftp refused  tftp=x.bin client=10.0.0.5 error="File not found"');
  assert.equal(prettyLine('not json'), 'not json');
  assert.match(prettyLine(JSON.stringify({ level: 50, msg: 'x', err: { type: 'Error', message: 'boom', stack: '…' } })), /ERROR x {2}err="boom"/);
});
