import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EscapeReader } from './ipmi-sol.ts';

test('SOL escapes are recognised only after a newline, as ipmitool does', () => {
  const r = new EscapeReader();
  assert.deepEqual(r.feed(Buffer.from('~B')), { data: Buffer.alloc(0), commands: ['break'] });
  assert.deepEqual(r.feed(Buffer.from('a~.b')), { data: Buffer.from('a~.b'), commands: [] });
  assert.deepEqual(r.feed(Buffer.from('\r~~x\r~?')), { data: Buffer.from('\r~x\r'), commands: ['help'] });
  assert.deepEqual(r.feed(Buffer.from('\r~.ignored')), { data: Buffer.from('\r'), commands: ['quit'] });
});
