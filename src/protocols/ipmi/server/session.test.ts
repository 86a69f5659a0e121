import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SEQUENCE_WINDOW_AHEAD, SEQUENCE_WINDOW_BEHIND, SequenceWindow } from './session.ts';

test('accepts increasing sequence numbers and rejects replays', () => {
  const w = new SequenceWindow(0);
  assert.equal(w.accept(3), true);
  assert.equal(w.accept(4), true);
  assert.equal(w.accept(4), false);
  assert.equal(w.accept(3), false);
  assert.equal(w.accept(2), true, 'reordered but unseen');
  assert.equal(w.accept(2), false);
});

test('rejects jumps beyond the window in either direction', () => {
  const w = new SequenceWindow(100);
  assert.equal(w.accept(100 + SEQUENCE_WINDOW_AHEAD + 1), false);
  assert.equal(w.accept(100 + SEQUENCE_WINDOW_AHEAD), true);
  assert.equal(w.accept(100 + SEQUENCE_WINDOW_AHEAD - SEQUENCE_WINDOW_BEHIND), false);
});

test('wraps around 2^32', () => {
  const w = new SequenceWindow(0xfffffffe);
  assert.equal(w.accept(0xffffffff), true);
  assert.equal(w.accept(0), true);
  assert.equal(w.accept(1), true);
  assert.equal(w.accept(0xffffffff), false);
});
