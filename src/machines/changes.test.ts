import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, systemClock } from '../store/store.ts';
import { Machines } from './machines.ts';
import { MachineEvents } from './events.ts';
import { MachineChanges, type MachineChange } from './changes.ts';
import { ChangePoll } from './change-poll.ts';

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

test('changes another process stored are published while someone listens', async (t) => {
  const store = await openStore({ sqlitePath: ':memory:' });
  t.after(() => store.close());
  const serverBus = new MachineChanges();
  const poll = new ChangePoll(store.db, serverBus);
  // The other process: its own bus, which nobody in the server hears.
  const machines = new Machines(store.db, systemClock);
  const cli = new MachineEvents(store.db, systemClock, new MachineChanges());
  const { machine } = await machines.add('n1', ['52:54:00:c0:00:02']);
  await cli.record(machine.id, 'power', 'before anyone listened');
  const heard: MachineChange[] = [];
  const stop = serverBus.subscribe((c) => heard.push(c));
  await poll.tick(); // finds where the tables end
  await poll.tick();
  assert.deepEqual(heard, [], 'what was there before is not news');
  await cli.record(machine.id, 'power', 'power off → on (anvil machine power)');
  await cli.record(machine.id, 'power', 'power on → off (anvil machine power)');
  await cli.record(machine.id, 'lock', 'released');
  await poll.tick();
  assert.deepEqual(heard, [
    { machineId: machine.id, topic: 'power' },
    { machineId: machine.id, topic: 'machine' },
  ]);
  await poll.tick();
  assert.equal(heard.length, 2, 'each change once');
  stop();
  await cli.record(machine.id, 'power', 'unheard');
  await poll.tick();
  assert.equal(heard.length, 2);
});
