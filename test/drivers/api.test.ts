// The power and boot-device API over a running server: driver set with PATCH (validated,
// masked), power and boot device through the fake and manual drivers, the event log, 409 on
// a locked machine naming the holder, and power sync putting a machine whose emulated BMC
// stopped into maintenance, then clearing it when the BMC answers again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BmcServer } from '../../src/protocols/ipmi/server/server.ts';
import { MemoryBmcHandler } from '../../src/protocols/ipmi/server/memory-handler.ts';
import { testAnvil, type TestAnvil } from '../helpers/anvil-inproc.ts';

async function enroll(anvil: TestAnvil, name: string, mac: string, patch: object): Promise<Response> {
  assert.equal((await anvil.api('/api/v1/machines', { method: 'POST', json: { name, macs: [mac] } })).status, 201);
  return anvil.api(`/api/v1/machines/${name}`, { method: 'PATCH', json: patch });
}

/** Polls until `check` holds; fails after `ms` naming what it waited for. */
async function until<T>(what: string, read: () => Promise<T>, check: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('API: driver, power, boot device, events, masking and validation', async (t) => {
  const anvil = await testAnvil(t, { powerSync: false });
  const created = await enroll(anvil, 'f1', '52:54:00:00:00:01', { driver: 'fake', driver_info: { fake_password: 'pw-Zebra-42' } });
  assert.equal(created.status, 200);
  const view = (await created.json()) as { driver: string; driverInfo: Record<string, unknown> };
  assert.deepEqual([view.driver, view.driverInfo], ['fake', { fake_password: '******' }]);
  const stored = await anvil.services.store.db.selectFrom('machines').select('driver_info').where('name', '=', 'f1').executeTakeFirstOrThrow();
  assert.doesNotMatch(stored.driver_info, /pw-Zebra-42/, 'encrypted at rest');

  const bad = await anvil.api('/api/v1/machines/f1', { method: 'PATCH', json: { driver: 'amt', driver_info: { amt_port: 'x' } } });
  assert.equal(bad.status, 400);
  const badBody = (await bad.json()) as { error: { code: string; message: string } };
  assert.equal(badBody.error.code, 'DRIVER_INFO_INVALID');
  for (const field of ['amt_address is missing', 'amt_password is missing', 'amt_port must be an integer'])
    assert.match(badBody.error.message, new RegExp(field));

  const on = await anvil.api('/api/v1/machines/f1/power', { method: 'PUT', json: { target: 'on', timeout: 5 } });
  assert.deepEqual(await on.json(), { name: 'f1', powerState: 'on' });
  assert.deepEqual(await (await anvil.api('/api/v1/machines/f1/power')).json(), { name: 'f1', powerState: 'on' });
  assert.equal((await anvil.api('/api/v1/machines/f1/power', { method: 'PUT', json: { target: 'reboot' } })).status, 200);
  assert.equal((await anvil.api('/api/v1/machines/f1/power', { method: 'PUT', json: { target: 'sideways' } })).status, 400);

  const boot = await anvil.api('/api/v1/machines/f1/boot-device', { method: 'PUT', json: { device: 'pxe', persistent: true, uefi: true } });
  assert.equal(boot.status, 200);
  assert.deepEqual(await (await anvil.api('/api/v1/machines/f1/boot-device')).json(), {
    name: 'f1',
    device: 'pxe',
    persistent: true,
    uefi: true,
    supported: ['pxe', 'disk', 'cdrom', 'bios'],
  });

  const events = (await (await anvil.api('/api/v1/machines/f1/events')).json()) as { kind: string; message: string }[];
  assert.deepEqual(
    events.map((e) => e.kind),
    ['boot-device', 'power', 'power', 'driver'],
  );
  assert.match(events[2]!.message, /power unknown → on \(on by operator 'test'\)/);
  assert.doesNotMatch(JSON.stringify(events), /pw-Zebra-42/);

  // No controller: a clear refusal.
  await enroll(anvil, 'm1', '52:54:00:00:00:02', { driver: 'manual' });
  const manual = await anvil.api('/api/v1/machines/m1/power', { method: 'PUT', json: { target: 'on' } });
  assert.equal(manual.status, 409);
  assert.match(((await manual.json()) as { error: { message: string } }).error.message, /machine 'm1' has no management controller.*reboots itself/);
});

test('API: an operation on a locked machine answers 409 naming the holder', async (t) => {
  const anvil = await testAnvil(t, { powerSync: false });
  await enroll(anvil, 'f2', '52:54:00:00:00:03', { driver: 'fake' });
  await anvil.services.store.db
    .updateTable('machines')
    .set({ reservation: 'anvil machine (pid 4242 on lab1): power on (alice)' })
    .where('name', '=', 'f2')
    .execute();
  for (const [path, json] of [
    ['power', { target: 'off' }],
    ['boot-device', { device: 'disk' }],
  ] as const) {
    const res = await anvil.api(`/api/v1/machines/f2/${path}`, { method: 'PUT', json });
    assert.equal(res.status, 409);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'MACHINE_LOCKED');
    assert.match(body.error.message, /machine 'f2' is locked by anvil machine \(pid 4242 on lab1\): power on \(alice\)/);
  }
  assert.equal((await anvil.api('/api/v1/machines/f2', { method: 'PATCH', json: { driver_info: { fake_power_delay_ms: 1 } } })).status, 409);
  // A lock left behind can be broken; then the operation goes through and releases its own lock.
  assert.deepEqual(await (await anvil.api('/api/v1/machines/f2/lock', { method: 'DELETE' })).json(), {
    name: 'f2',
    released: 'anvil machine (pid 4242 on lab1): power on (alice)',
  });
  assert.equal((await anvil.api('/api/v1/machines/f2/power', { method: 'PUT', json: { target: 'on' } })).status, 200);
  const row = await anvil.services.store.db.selectFrom('machines').select('reservation').where('name', '=', 'f2').executeTakeFirstOrThrow();
  assert.equal(row.reservation, null);
});

test('power sync: a stopped BMC puts the machine in maintenance with the reason, a restarted one clears it', async (t) => {
  let server = new BmcServer();
  const handler = new MemoryBmcHandler({ user: 'admin', password: 'sync-pw', power: 'on' });
  const { port } = await server.add({ port: 0, handler });
  t.after(() => server.close());
  const anvil = await testAnvil(t, {
    powerSync: { intervalMs: 100, maxFailures: 2 },
    drivers: { ipmi: { policy: { timeoutMs: 100, retries: 1, backoff: 0, jitter: 0, loginAttempts: 1 } } },
  });
  await enroll(anvil, 'srv1', '52:54:00:00:01:01', {
    driver: 'ipmi',
    driver_info: { ipmi_address: '127.0.0.1', ipmi_port: port, ipmi_username: 'admin', ipmi_password: 'sync-pw' },
  });
  const machine = () => anvil.services.store.db.selectFrom('machines').selectAll().where('name', '=', 'srv1').executeTakeFirstOrThrow();
  await until('power sync to record power on', machine, (m) => m.power_state === 'on');

  await server.close();
  const flagged = await until('maintenance after the BMC stopped', machine, (m) => m.maintenance === 1);
  assert.equal(flagged.fault, 'power failure');
  assert.match(flagged.maintenance_reason ?? '', /power sync: the controller failed 2 times in a row: machine 'srv1': the BMC does not answer/);
  const view = (await (await anvil.api('/api/v1/machines/srv1/driver')).json()) as { maintenance: boolean; maintenanceReason: string };
  assert.equal(view.maintenance, true);
  let events = (await (await anvil.api('/api/v1/machines/srv1/events')).json()) as { kind: string; message: string }[];
  assert.ok(
    events.some((e) => e.kind === 'maintenance' && /power sync: the controller failed/.test(e.message)),
    JSON.stringify(events),
  );
  assert.ok(
    events.some((e) => e.kind === 'controller'),
    'the first failure is recorded',
  );

  // An operator's own maintenance is never cleared by power sync; this one was set by it, so it is.
  server = new BmcServer();
  await server.add({ port, handler });
  const cleared = await until('maintenance cleared after the BMC came back', machine, (m) => m.maintenance === 0);
  assert.deepEqual([cleared.fault, cleared.maintenance_reason, cleared.power_state], [null, null, 'on']);
  events = (await (await anvil.api('/api/v1/machines/srv1/events')).json()) as { kind: string; message: string }[];
  assert.match(events.find((e) => e.kind === 'maintenance')!.message, /answers again; maintenance set by power sync cleared/);
});

test('power sync: maintenance set by an operator is left alone', async (t) => {
  const anvil = await testAnvil(t, { powerSync: { intervalMs: 50, maxFailures: 1 } });
  await enroll(anvil, 'f3', '52:54:00:00:00:04', { driver: 'fake' });
  await anvil.services.store.db
    .updateTable('machines')
    .set({ maintenance: 1, maintenance_reason: 'disk swap', fault: null })
    .where('name', '=', 'f3')
    .execute();
  await enroll(anvil, 'f4', '52:54:00:00:00:05', { driver: 'fake' });
  // f3's hardware turns on while it is in maintenance: power sync must not look at it. (A sync
  // pass already running when maintenance was set may have recorded its earlier state, 'off'.)
  anvil.services.control.types.fake.machine('f3').power = 'on';
  const f4 = () => anvil.services.store.db.selectFrom('machines').selectAll().where('name', '=', 'f4').executeTakeFirstOrThrow();
  anvil.services.control.types.fake.machine('f4').power = 'on';
  await until('power sync to see f4 on', f4, (m) => m.power_state === 'on');
  anvil.services.control.types.fake.machine('f4').power = 'off';
  await until('a later pass to see f4 off', f4, (m) => m.power_state === 'off');
  const f3 = await anvil.services.store.db.selectFrom('machines').selectAll().where('name', '=', 'f3').executeTakeFirstOrThrow();
  assert.deepEqual([f3.maintenance, f3.maintenance_reason], [1, 'disk swap']);
  assert.notEqual(f3.power_state, 'on');
});
