import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayWindow, REPLAY_WINDOW } from './replay-window.ts';

test('replay window: each number once, late ones within the window, old ones refused', () => {
  const w = new ReplayWindow();
  assert.equal(w.accept(10), true);
  assert.equal(w.accept(10), false);
  assert.equal(w.accept(12), true);
  assert.equal(w.accept(11), true, 'late but new');
  assert.equal(w.accept(11), false);
  assert.equal(w.accept(12 - REPLAY_WINDOW), false, 'outside the window');
  assert.equal(w.accept(12 + 100), true, 'a jump forward resets the window');
  assert.equal(w.accept(12), false);
  assert.equal(w.refused, 4);
});
