// /metrics in Prometheus' text format, scraped as Prometheus would (a bearer token) and read by
// a strict parser and by Prometheus' own Python client: machines by state, boots by loader,
// HTTP and TFTP bytes, driver call latencies and errors by code, runs by state, stale machines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { exec } from '../helpers/anvil-process.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { parseExposition, prometheusParse, valueOf } from '../helpers/prometheus.ts';

const PROMETHEUS_CLIENT = '/usr/lib/python3/dist-packages/prometheus_client/parser.py';

test('/metrics: the fleet, boots, bytes, driver calls and stuck machines in Prometheus text format', { timeout: 60_000 }, async (t) => {
  if (!havePeers(t, 'curl')) return;
  if (!requireCondition(t, existsSync(PROMETHEUS_CLIENT), 'python3-prometheus-client (Prometheus parser) is missing')) return;
  let now = Date.parse('2026-12-01T10:00:00.000Z');
  const a = await testAnvil(t, { powerSync: false, clock: () => new Date(now), netboot: { tftp: { host: '127.0.0.1', port: 0 } } });
  const viewer = (await a.services.tokens.create('viewer', 'prometheus')).token;
  const scrape = async () => {
    const r = await a.api('/metrics', { token: viewer });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    return r.text();
  };

  assert.equal((await a.api('/metrics', { token: null })).status, 401, 'a scrape needs a token');
  await a.services.machines.add('m1', ['52:54:00:00:01:01']);
  await a.services.machines.add('m2', ['52:54:00:00:01:02']);
  const r = await a.api('/api/v1/machines/m1', { method: 'PATCH', json: { driver: 'fake', driver_info: {} } });
  assert.equal(r.status, 200, await r.text());
  assert.equal((await a.api('/api/v1/machines/m1/power', { method: 'PUT', json: { target: 'on' } })).status, 200);
  a.services.control.types.fake.machine('m1').unreachable = true;
  assert.equal((await a.api('/api/v1/machines/m1/power')).status, 503);
  await a.services.nextBoot.set('m2', 'install');
  assert.equal((await fetch(`${a.url}/boot/52:54:00:00:01:02?arch=x86_64&platform=pcbios`)).status, 200);
  await a.services.testing.queue(await a.services.machines.find('m1'), ['hello']);
  const port = a.netboot!.tftp!.address!.port;
  await exec('curl', ['-s', '-o', '/dev/null', `tftp://127.0.0.1:${port}/undionly.kpxe`]);

  let text = await scrape();
  let m = parseExposition(text);
  assert.equal(valueOf(m, 'anvil_machines_by_power_state', { state: 'on' }), 1);
  assert.equal(valueOf(m, 'anvil_machines_by_provision_state', { state: 'available' }), 2);
  assert.equal(valueOf(m, 'anvil_boots_served_total', { loader: 'iPXE' }), 1);
  assert.equal(valueOf(m, 'anvil_runs', { state: 'requested' }), 1);
  assert.ok(valueOf(m, 'anvil_driver_call_duration_seconds_count', { driver: 'fake', operation: 'setPowerState' })! >= 1);
  assert.equal(valueOf(m, 'anvil_driver_call_errors_total', { driver: 'fake', operation: 'getPowerState', code: 'CONTROLLER_UNREACHABLE' }), 1);
  assert.ok(valueOf(m, 'anvil_http_sent_bytes_total')! > 1000);
  assert.ok(valueOf(m, 'anvil_tftp_sent_bytes_total')! > 10_000, 'undionly.kpxe went out over TFTP');
  assert.equal(valueOf(m, 'anvil_stale_machines', { kind: 'run-overdue' }), 0);

  // Forty minutes on: m1's run is overdue (no history: the 30-minute floor), m2 booted install and went silent.
  now += 40 * 60_000;
  text = await scrape();
  m = parseExposition(text);
  assert.equal(valueOf(m, 'anvil_stale_machines', { kind: 'run-overdue' }), 1);
  assert.equal(valueOf(m, 'anvil_stale_machines', { kind: 'boot-silent' }), 1);
  assert.equal(valueOf(m, 'anvil_stale_machines', { kind: 'deploy-quiet' }), 0);

  // Prometheus' own parser reads every family with its type.
  const families = await prometheusParse(text);
  const types = new Map(families.map((f) => [f.name, f.type]));
  assert.equal(types.get('anvil_driver_call_duration_seconds'), 'histogram');
  assert.equal(types.get('anvil_machines_by_power_state'), 'gauge');
  assert.equal(types.get('anvil_boots_served'), 'counter', 'the client names counters without _total');
  assert.equal(families.length, m.size);
});
