// The console ring buffer: bounded, counts every byte, waits for text after a mark.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsoleBuffer } from './console.ts';

test('keeps only the most recent bytes, but counts them all', () => {
  const buffer = new ConsoleBuffer(8);
  buffer.push(Buffer.from('hello '));
  buffer.push(Buffer.from('world!'));
  assert.equal(buffer.text(), 'o world!');
  assert.equal(buffer.total, 12);
  assert.equal(buffer.text(9), 'ld!');
  // A mark older than what is kept gives what is kept.
  assert.equal(buffer.text(1), 'o world!');
});

test('waitFor resolves on text written later, only counting output after the mark', async () => {
  const buffer = new ConsoleBuffer();
  buffer.push(Buffer.from('login: '));
  const mark = buffer.total;
  const waiting = buffer.waitFor('login: ', { since: mark, timeoutMs: 1_000 });
  buffer.push(Buffer.from('iPXE 1.0\r\nlog'));
  buffer.push(Buffer.from('in: '));
  assert.equal(await waiting, 'iPXE 1.0\r\nlogin: ');
  assert.match(await buffer.waitFor(/iPXE \d/), /iPXE 1/);
});

test('waitFor times out with LAB_TIMEOUT and shows the last output', async () => {
  const buffer = new ConsoleBuffer();
  buffer.push(Buffer.from('No bootable device.'));
  await assert.rejects(
    buffer.waitFor('iPXE', { timeoutMs: 20 }),
    (e: unknown) => (e as { code?: string }).code === 'LAB_TIMEOUT' && /No bootable device/.test((e as Error).message),
  );
});
