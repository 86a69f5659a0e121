import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HashRing } from './hash-ring.ts';

const machines = Array.from({ length: 10_000 }, (_, i) => `node-${i}`);

function shares(ring: HashRing): Map<string, number> {
  const count = new Map<string, number>();
  for (const m of machines) {
    const owner = ring.owner(m)!;
    count.set(owner, (count.get(owner) ?? 0) + 1);
  }
  return count;
}

test('every machine has exactly one owner, the same whatever order the members come in', () => {
  const a = new HashRing(['c1', 'c2', 'c3']);
  const b = new HashRing(['c3', 'c1', 'c2', 'c1']);
  assert.deepEqual(a.members, ['c1', 'c2', 'c3']);
  for (const m of machines) assert.equal(a.owner(m), b.owner(m));
  assert.equal(new HashRing([]).owner('node-1'), undefined);
  const alone = new HashRing(['only']);
  assert.ok(machines.every((m) => alone.owner(m) === 'only'));
});

test('the shares are roughly even: each of 3 and of 5 members gets within 20% of 1/N', () => {
  for (const n of [3, 5]) {
    const members = Array.from({ length: n }, (_, i) => `conductor-${i}`);
    const count = shares(new HashRing(members));
    assert.deepEqual([...count.keys()].sort(), members);
    for (const [member, c] of count) {
      const share = c / machines.length;
      assert.ok(Math.abs(share - 1 / n) < 0.2 / n, `${member} owns ${(share * 100).toFixed(1)}% of the machines with ${n} members`);
    }
  }
});

test('when a member leaves only its machines move, about 1/N; when one joins, it takes about 1/(N+1) and nothing else moves', () => {
  const before = new HashRing(['c1', 'c2', 'c3']);
  const after = new HashRing(['c1', 'c3']);
  let moved = 0;
  for (const m of machines) {
    const was = before.owner(m);
    const now = after.owner(m);
    if (was !== 'c2') assert.equal(now, was, `${m} moved from ${was} though ${was} stayed`);
    else moved++;
  }
  assert.ok(Math.abs(moved / machines.length - 1 / 3) < 0.07, `${moved} of ${machines.length} moved`);

  const grown = new HashRing(['c1', 'c2', 'c3', 'c4']);
  let taken = 0;
  for (const m of machines) {
    const now = grown.owner(m);
    if (now === 'c4') taken++;
    else assert.equal(now, before.owner(m));
  }
  assert.ok(Math.abs(taken / machines.length - 1 / 4) < 0.05, `the new member took ${taken}`);
});

test('a ring needs a positive number of virtual nodes', () => {
  assert.throws(() => new HashRing(['a'], 0), RangeError);
});
