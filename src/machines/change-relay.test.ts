// The relay's payloads and its two directions, over a channel that hands every notification to
// every listener as PostgreSQL does (test/store/live-cluster.test.ts runs it on PostgreSQL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NotifyChannel } from '../store/postgres-channel.ts';
import { NOTIFY_PAYLOAD_LIMIT } from '../store/postgres-channel.ts';
import { MachineChanges, type MachineChange } from './changes.ts';
import { ChangeRelay, decodeChanges, encodeChanges } from './change-relay.ts';

class LoopChannel implements NotifyChannel {
  readonly sent: string[] = [];
  readonly #listeners: ((payload: string) => void)[];
  constructor(listeners: ((payload: string) => void)[]) {
    this.#listeners = listeners;
  }
  async notify(payload: string): Promise<void> {
    this.sent.push(payload);
    for (const listener of this.#listeners) listener(payload);
  }
  listen(onPayload: (payload: string) => void, onListening?: () => void): void {
    this.#listeners.push(onPayload);
    onListening?.();
  }
  async close(): Promise<void> {}
}

test('payloads: origin then id:topic items, split under the limit, malformed items skipped', () => {
  const many: MachineChange[] = Array.from({ length: 2_000 }, (_, i) => ({ machineId: i + 1, topic: 'power' }));
  const payloads = encodeChanges('abc', many);
  assert.ok(payloads.length > 1);
  assert.ok(payloads.every((p) => p.length <= NOTIFY_PAYLOAD_LIMIT && p.startsWith('abc ')));
  assert.deepEqual(
    payloads.flatMap((p) => decodeChanges(p).changes),
    many,
  );
  assert.deepEqual(encodeChanges('abc', []), []);
  assert.deepEqual(decodeChanges('x 1:power 0:power -2:boot 3:nonsense 4 5:next-boot'), {
    origin: 'x',
    changes: [
      { machineId: 1, topic: 'power' },
      { machineId: 5, topic: 'next-boot' },
    ],
  });
});

test("each process's own changes reach the other's subscribers once, and are never sent on again", async () => {
  const listeners: ((payload: string) => void)[] = [];
  const [a, b] = [new MachineChanges(), new MachineChanges()];
  const [channelA, channelB] = [new LoopChannel(listeners), new LoopChannel(listeners)];
  const [relayA, relayB] = [new ChangeRelay(a, channelA), new ChangeRelay(b, channelB)];
  relayA.start();
  relayB.start();
  const heardA: MachineChange[] = [];
  const heardB: MachineChange[] = [];
  a.subscribe((c) => heardA.push(c));
  b.subscribe((c) => heardB.push(c));
  assert.equal(a.subscribers, 1, 'a relay is not a subscriber');

  a.publish({ machineId: 7, topic: 'power' });
  a.publish({ machineId: 7, topic: 'power' });
  a.publish({ machineId: 8, topic: 'next-boot' });
  await relayA.stop();
  assert.equal(channelA.sent.length, 1, 'gathered into one notification, each change once');
  assert.deepEqual(heardB, [
    { machineId: 7, topic: 'power' },
    { machineId: 8, topic: 'next-boot' },
  ]);
  assert.equal(heardA.length, 3, 'its own subscribers hear it at once, not again from the channel');
  assert.deepEqual(channelB.sent, [], 'what B heard is not sent on');
  b.deliver({ machineId: 9, topic: 'run' });
  await relayB.stop();
  assert.deepEqual(channelB.sent, [], 'a delivered change (the poll’s) is not sent either');
});
