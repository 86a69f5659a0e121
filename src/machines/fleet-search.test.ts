// The fleet page's query: search, filters, sorts and pages, on SQLite and PostgreSQL alike
// (ANVIL_TEST_DATABASE picks the backend).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testStore } from '../../test/helpers/database.ts';
import { systemClock } from '../store/store.ts';
import { Machines, type FleetQuery } from './machines.ts';

async function fleet(t: { after(fn: () => unknown): void }) {
  const store = await testStore(t);
  const { db } = store;
  const machines = new Machines(db, systemClock);
  // name, power, provision, driver
  const rows: Array<[string, string, string, string]> = [
    ['rack1-01', 'on', 'available', 'ipmi'],
    ['rack1-02', 'off', 'available', 'ipmi'],
    ['rack1-03', 'on', 'deploying', 'redfish'],
    ['rack1-04', 'unknown', 'deploy-failed', 'ipmi'],
    ['Rack2_01', 'on', 'active', 'fake'],
    ['rack2x01', 'off', 'active', 'fake'],
    ['desk-1', 'unknown', 'enroll', 'manual'],
  ];
  const ids = new Map<string, number>();
  for (const [i, [name, power, provision, driver]] of rows.entries()) {
    const hex = (i + 1).toString(16).padStart(2, '0');
    const { machine } = await machines.add(name, [`52:54:00:aa:00:${hex}`, `52:54:00:bb:00:${hex}`]);
    await db.updateTable('machines').set({ power_state: power, provision_state: provision, driver }).where('id', '=', machine.id).execute();
    ids.set(name, machine.id);
  }
  const id = (name: string) => ids.get(name)!;
  const run = async (name: string, state: 'requested' | 'done' | 'error', errors = 0, warnings = 0) =>
    db
      .insertInto('runs')
      .values({
        machine_id: id(name),
        test: 'disk',
        state,
        requested_at: '2026-12-01T00:00:00.000Z',
        sent_at: null,
        finished_at: state === 'requested' ? null : '2026-12-01T00:10:00.000Z',
        errors,
        warnings,
        version: null,
        upload_path: null,
        upload_bytes: null,
        error_reason: null,
      })
      .execute();
  // rack1-01 failed once, then passed: its last result is ok. rack1-02 passed, then its newer run waits (still ok).
  await run('rack1-01', 'done', 3);
  await run('rack1-01', 'done');
  await run('rack1-02', 'done');
  await run('rack1-02', 'requested');
  await run('rack1-03', 'done', 0, 2);
  await run('rack1-04', 'error');
  await run('Rack2_01', 'done', 1, 1);
  const boot = (name: string, kind: 'boot' | 'nextboot') =>
    db
      .insertInto('boot_log')
      .values({
        machine_id: id(name),
        at: '2026-12-01T00:00:00.000Z',
        kind,
        profile: 'install',
        reason: 'boot served',
        loader: null,
        arch: null,
        address: null,
      })
      .execute();
  // Booted in this order; desk-1 only had its next boot set, which is no boot.
  for (const name of ['rack1-03', 'rack1-01', 'rack2x01']) await boot(name, 'boot');
  await boot('desk-1', 'nextboot');
  const names = async (query: Partial<FleetQuery>) => {
    const found = await machines.search({ limit: 100, ...query });
    return { total: found.total, names: found.machines.map((m) => m.name) };
  };
  return { machines, names, id };
}

test('the fleet search: every machine in name order, paged without gaps or repeats, counted', async (t) => {
  const { machines, names } = await fleet(t);
  const all = await names({});
  assert.equal(all.total, 7);
  assert.deepEqual(all.names, ['desk-1', 'rack1-01', 'rack1-02', 'rack1-03', 'rack1-04', 'Rack2_01', 'rack2x01'].sort());
  for (const size of [1, 2, 3]) {
    const walked: string[] = [];
    for (let offset = 0; offset < all.total; offset += size) {
      const page = await names({ limit: size, offset });
      assert.equal(page.total, 7);
      walked.push(...page.names);
    }
    assert.deepEqual(walked, all.names, `pages of ${size}`);
  }
  assert.deepEqual(await names({ limit: 0 }), { total: 7, names: [] });
  assert.deepEqual(await names({ offset: 50 }), { total: 7, names: [] });
  const [first] = (await machines.search({ limit: 1, filter: { text: 'desk' } })).machines;
  assert.deepEqual(first?.macs, ['52:54:00:aa:00:07', '52:54:00:bb:00:07']);
});

test('the fleet search finds by part of a name or a MAC, in any case or notation, wildcards taken literally', async (t) => {
  const { names } = await fleet(t);
  assert.deepEqual((await names({ filter: { text: 'RACK1' } })).names, ['rack1-01', 'rack1-02', 'rack1-03', 'rack1-04']);
  // '_' is a character, not LIKE's any-one-character.
  assert.deepEqual((await names({ filter: { text: '2_0' } })).names, ['Rack2_01']);
  assert.deepEqual((await names({ filter: { text: '%' } })).names, []);
  assert.deepEqual((await names({ filter: { text: '52:54:00:BB:00:03' } })).names, ['rack1-03']);
  assert.deepEqual((await names({ filter: { text: '52-54-00-aa-00-04' } })).names, ['rack1-04']);
  assert.deepEqual((await names({ filter: { text: '525400aa0005' } })).names, ['Rack2_01']);
  assert.deepEqual((await names({ filter: { text: 'bb:00:0' } })).total, 7);
  assert.deepEqual((await names({ filter: { text: '  00:06 ' } })).names, ['rack2x01']);
  assert.deepEqual((await names({ filter: { text: 'nothing-like-it' } })).total, 0);
});

test('the fleet filters: power, provision state, driver, last result, given ids, together', async (t) => {
  const { names, id } = await fleet(t);
  assert.deepEqual((await names({ filter: { power: ['on'] } })).names, ['Rack2_01', 'rack1-01', 'rack1-03']);
  assert.deepEqual((await names({ filter: { power: ['off', 'unknown'] } })).total, 4);
  assert.deepEqual((await names({ filter: { provision: ['deploying', 'deploy-failed'] } })).names, ['rack1-03', 'rack1-04']);
  assert.deepEqual((await names({ filter: { driver: ['fake'] } })).names, ['Rack2_01', 'rack2x01']);
  // The latest finished run decides; one still requested does not count.
  assert.deepEqual((await names({ filter: { result: ['ok'] } })).names, ['rack1-01', 'rack1-02']);
  assert.deepEqual((await names({ filter: { result: ['warnings'] } })).names, ['rack1-03']);
  assert.deepEqual((await names({ filter: { result: ['errors', 'failed'] } })).names, ['Rack2_01', 'rack1-04']);
  assert.deepEqual((await names({ filter: { result: ['none'] } })).names, ['desk-1', 'rack2x01']);
  assert.deepEqual((await names({ filter: { text: 'rack1', power: ['on'], result: ['ok', 'warnings'], driver: ['ipmi', 'redfish'] } })).names, [
    'rack1-01',
    'rack1-03',
  ]);
  assert.deepEqual((await names({ filter: { ids: [id('desk-1'), id('rack1-02')] } })).names, ['desk-1', 'rack1-02']);
  assert.deepEqual(await names({ filter: { ids: [] } }), { total: 0, names: [] });
  assert.deepEqual((await names({ filter: { ids: [id('desk-1'), id('rack1-02')], power: ['off'] } })).names, ['rack1-02']);
});

test('the fleet sorts: by each column either way, ties by name', async (t) => {
  const { names } = await fleet(t);
  // Names compare as bytes on both backends here (the test cluster is --locale=C): 'R' before 'd' before 'r'.
  assert.deepEqual((await names({ descending: true, limit: 3 })).names, ['rack2x01', 'rack1-04', 'rack1-03']);
  // power_state sorts as text: off, on, unknown.
  assert.deepEqual((await names({ sort: 'power' })).names, ['rack1-02', 'rack2x01', 'Rack2_01', 'rack1-01', 'rack1-03', 'desk-1', 'rack1-04']);
  // Descending reverses the key, not the ties.
  assert.deepEqual((await names({ sort: 'driver', descending: true })).names, [
    'rack1-03',
    'desk-1',
    'rack1-01',
    'rack1-02',
    'rack1-04',
    'Rack2_01',
    'rack2x01',
  ]);
  // Worst result first; none last.
  assert.deepEqual((await names({ sort: 'result' })).names, ['rack1-04', 'Rack2_01', 'rack1-03', 'rack1-01', 'rack1-02', 'desk-1', 'rack2x01']);
  // Never booted as the oldest; the rest in the order they booted.
  assert.deepEqual((await names({ sort: 'boot' })).names, ['Rack2_01', 'desk-1', 'rack1-02', 'rack1-04', 'rack1-03', 'rack1-01', 'rack2x01']);
  assert.deepEqual((await names({ sort: 'boot', descending: true, limit: 2 })).names, ['rack2x01', 'rack1-01']);
  assert.deepEqual((await names({ sort: 'provision', filter: { text: 'rack1' } })).names, ['rack1-01', 'rack1-02', 'rack1-04', 'rack1-03']);
  assert.deepEqual((await names({ sort: 'result', offset: 1, limit: 2 })).names, ['Rack2_01', 'rack1-03']);
});
