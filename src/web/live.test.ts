import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { MachineChanges } from '../machines/changes.ts';
import type { FleetMachine } from '../boot/next-boot.ts';
import type { WebContext } from './context.ts';
import { LiveFeed, type MachineUpdate } from './live.ts';

/** Enough of a ServerResponse for the feed: what it writes, and a promise for the next write that matches. */
class FakeResponse extends EventEmitter {
  status = 0;
  headers: Record<string, string> = {};
  readonly written: string[] = [];
  ended = false;
  #waiters: Array<{ match: RegExp; resolve: (text: string) => void }> = [];

  writeHead(status: number, headers: Record<string, string>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }

  write(text: string): boolean {
    this.written.push(text);
    this.#waiters = this.#waiters.filter((w) => !(w.match.test(text) && (w.resolve(text), true)));
    return true;
  }

  end(): this {
    this.ended = true;
    this.emit('close');
    return this;
  }

  next(match: RegExp): Promise<string> {
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }
}

const machines = new Map<number, FleetMachine>([
  [
    1,
    {
      id: 1,
      name: 'n1',
      macs: ['52:54:00:00:00:01'],
      nextProfile: 'local',
      nextOnce: false,
      version: null,
      powerState: 'off',
      provisionState: 'available',
      driver: 'fake',
      lastBoot: undefined,
    },
  ],
  [
    2,
    {
      id: 2,
      name: 'n2',
      macs: ['52:54:00:00:00:02'],
      nextProfile: 'local',
      nextOnce: false,
      version: null,
      powerState: 'on',
      provisionState: 'available',
      driver: 'fake',
      lastBoot: undefined,
    },
  ],
]);

function feedOf(options: { heartbeatMs?: number } = {}) {
  const changes = new MachineChanges();
  const reads: number[] = [];
  const ctx = {
    changes,
    nextBoot: {
      fleet: async (id?: number) => {
        reads.push(id!);
        const m = machines.get(id!);
        return m ? [m] : [];
      },
    },
    testing: { latestResults: async () => new Map() },
    stale: { find: async () => new Map() },
  } as unknown as WebContext;
  return { changes, reads, feed: new LiveFeed(ctx, { gatherMs: 1, ...options }) };
}

const open = (feed: LiveFeed, machine?: string) => {
  const raw = new FakeResponse();
  feed.open(raw as unknown as ServerResponse, machine, { 'x-test': '1' });
  return raw;
};

const update = (frame: string): MachineUpdate => JSON.parse(/^data: (.*)$/m.exec(frame)![1]!) as MachineUpdate;

test('a change reaches the fleet stream and that machine’s stream, read back once however many changes came together', async () => {
  const { changes, reads, feed } = feedOf();
  const fleet = open(feed);
  const one = open(feed, 'n1');
  const other = open(feed, 'n2');
  assert.equal(fleet.status, 200);
  assert.equal(fleet.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(fleet.headers['x-test'], '1');
  assert.match(fleet.written[0]!, /^retry: \d+\n/);
  const seen = Promise.all([fleet.next(/^event: machine/), one.next(/^event: machine/)]);
  changes.publish({ machineId: 1, topic: 'power' });
  changes.publish({ machineId: 1, topic: 'run' });
  const [a, b] = await seen;
  assert.deepEqual(reads, [1]);
  assert.equal(a, b);
  const u = update(a);
  assert.deepEqual([u.name, u.power, u.provision, u.result, [...u.topics].sort()], ['n1', 'off', 'available', 'none', ['power', 'run']]);
  assert.match(u.row, /^<tr data-machine="n1">.*<td data-field="power">off<\/td>/);
  assert.equal(other.written.filter((w) => w.startsWith('event:')).length, 0, 'n2’s page hears nothing of n1');
  feed.close();
  assert.ok(fleet.ended && one.ended && other.ended);
  assert.equal(changes.subscribers, 0);
});

test('heartbeats keep a quiet stream open; the bus is left when the last page goes', async () => {
  const { changes, feed } = feedOf({ heartbeatMs: 5 });
  const a = open(feed);
  const b = open(feed, 'n2');
  assert.equal(changes.subscribers, 1, 'one subscription for every page');
  await Promise.all([a.next(/^: heartbeat\n\n$/), b.next(/^: heartbeat\n\n$/)]);
  a.emit('close');
  assert.equal(feed.streams, 1);
  assert.equal(changes.subscribers, 1);
  b.emit('close');
  assert.equal(feed.streams, 0);
  assert.equal(changes.subscribers, 0);
  // Nobody listens: a change is not even read.
  changes.publish({ machineId: 2, topic: 'power' });
});
