// The deadline queue on a hand-driven clock: order, cancellation, one timer at a time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Deadlines } from './deadlines.ts';
import type { DeadlineClock } from './deadlines.ts';

/** A clock whose single pending timer the test fires by advancing time. */
function manualClock() {
  let now = 0;
  let timer: { at: number; fire: () => void } | undefined;
  let armed = 0;
  const clock: DeadlineClock = {
    now: () => now,
    setTimer(fire, ms) {
      armed++;
      timer = { at: now + ms, fire };
      return timer;
    },
    clearTimer(handle) {
      if (handle === timer) timer = undefined;
    },
  };
  return {
    clock,
    get armed() {
      return armed;
    },
    get pendingAt() {
      return timer?.at;
    },
    advance(ms: number) {
      now += ms;
      while (timer !== undefined && timer.at <= now) {
        const t = timer;
        timer = undefined;
        t.fire();
      }
    },
  };
}

test('deadlines fire in order, no earlier than asked and at most one resolution late', () => {
  const m = manualClock();
  const q = new Deadlines({ resolutionMs: 10, clock: m.clock });
  const fired: string[] = [];
  q.add(1005, () => fired.push('b'));
  q.add(500, () => fired.push('a'));
  q.add(2000, () => fired.push('c'));
  m.advance(499);
  assert.deepEqual(fired, []);
  m.advance(11);
  assert.deepEqual(fired, ['a']);
  m.advance(494);
  assert.deepEqual(fired, ['a'], '1004 ms: b is due at 1005');
  m.advance(6);
  assert.deepEqual(fired, ['a', 'b'], 'b fires by 1010, its slot');
  m.advance(1000);
  assert.deepEqual(fired, ['a', 'b', 'c']);
  assert.equal(q.size, 0);
  assert.equal(m.pendingAt, undefined, 'no timer left once nothing waits');
});

test('a cancelled deadline never fires, and cancelling the last one stops the timer', () => {
  const m = manualClock();
  const q = new Deadlines({ resolutionMs: 10, clock: m.clock });
  let fired = 0;
  const a = q.add(100, () => fired++);
  const b = q.add(100, () => fired++);
  a.cancel();
  assert.equal(q.size, 1);
  assert.notEqual(m.pendingAt, undefined);
  b.cancel();
  b.cancel();
  assert.equal(q.size, 0);
  assert.equal(m.pendingAt, undefined);
  m.advance(1000);
  assert.equal(fired, 0);
});

test('many deadlines share one timer, re-armed only for an earlier slot', () => {
  const m = manualClock();
  const q = new Deadlines({ resolutionMs: 10, clock: m.clock });
  const fired: number[] = [];
  for (let i = 0; i < 1000; i++) q.add(1000 + (i % 300), () => fired.push(i));
  assert.equal(m.armed, 1, 'later deadlines do not touch the timer');
  q.add(50, () => fired.push(-1));
  assert.equal(m.armed, 2);
  assert.equal(m.pendingAt, 50);
  m.advance(2000);
  assert.equal(fired.length, 1001);
  assert.equal(fired[0], -1);
});

test('a deadline that fires may add another, which gets its own wake-up', () => {
  const m = manualClock();
  const q = new Deadlines({ resolutionMs: 10, clock: m.clock });
  const fired: number[] = [];
  q.add(100, () => {
    fired.push(1);
    q.add(100, () => fired.push(2));
  });
  m.advance(100);
  assert.deepEqual(fired, [1]);
  m.advance(100);
  assert.deepEqual(fired, [1, 2]);
});
