import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, systemClock } from '../store/store.ts';
import { Machines } from './machines.ts';
import { MachineEvents } from './events.ts';
import { MachineChanges, type MachineChange } from './changes.ts';

test('a subscriber hears each change until it unsubscribes; one that throws does not stop the others', () => {
  const changes = new MachineChanges();
  const heard: MachineChange[] = [];
  changes.subscribe(() => {
    throw new Error('a broken page stream');
  });
  const stop = changes.subscribe((c) => heard.push(c));
  changes.publish({ machineId: 1, topic: 'power' });
  stop();
  changes.publish({ machineId: 1, topic: 'run' });
  assert.deepEqual(heard, [{ machineId: 1, topic: 'power' }]);
  assert.equal(changes.subscribers, 1);
});

test('a recorded event is published after it is stored, under the topic the pages show', async (t) => {
  const store = await openStore({ sqlitePath: ':memory:' });
  t.after(() => store.close());
  const changes = new MachineChanges();
  const machines = new Machines(store.db, systemClock);
  const events = new MachineEvents(store.db, systemClock, changes);
  const { machine } = await machines.add('n1', ['52:54:00:c0:00:01']);
  const heard: Array<Promise<string>> = [];
  changes.subscribe((c) => heard.push(events.list(c.machineId, 1).then(([e]) => `${c.topic}: ${e?.message}`)));
  await events.record(machine.id, 'power', 'power off → on (test)');
  await events.record(machine.id, 'provision', 'enroll → manageable');
  await events.record(machine.id, 'lock', 'released');
  assert.deepEqual(await Promise.all(heard), ['power: power off → on (test)', 'provision: enroll → manageable', 'machine: released']);
});
