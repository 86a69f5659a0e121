// `anvil ipmi sel get <id>...` against ipmitool on the same BMC (anvil bmc fake, OpenIPMI's
// ipmi_sim): system events with and without a matching sensor record, OEM records with and
// without a timestamp, an ID the SEL does not have, and several IDs at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { havePeers } from '../helpers/peers.ts';
import { startIpmiSim, USER } from './client-peers.ts';
import { anvil, CLI_TEST_TIMEOUT as TIMEOUT, ipmitool, same, startFake } from './cli-helpers.ts';

/** Add SEL Entry (§31.6) through ipmitool raw: the 16 bytes of a record, its ID left to the BMC. */
function addSel(common: string[], record: number[]): number {
  const r = ipmitool([...common, 'raw', '0x0a', '0x44', ...record.map((b) => `0x${b.toString(16)}`)]);
  assert.equal(r.code, 0, r.stderr);
  const [lo = '0', hi = '0'] = r.stdout.trim().split(/\s+/);
  return Number.parseInt(lo, 16) | (Number.parseInt(hi, 16) << 8);
}

async function selGetAgrees(common: string[], ids: number[]): Promise<void> {
  for (const id of ids) await same(common, ['sel', 'get', String(id)], { stderr: true });
  await same(common, ['sel', 'get', ...ids.map(String)], { stderr: true });
  await same(common, ['-c', 'sel', 'get', ...ids.map(String)], { stderr: true });
  // An ID the SEL does not have: both say so on stderr and fail; the IDs around it still print.
  const missing = await same(common, ['sel', 'get', String(ids[0]), '0x7777', String(ids.at(-1))], { stderr: true });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^Get SEL Entry 7777 command failed: Requested sensor, data, or record not found\n$/);
  const bad = await anvil([...common, 'sel', 'get', 'seven']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Given SEL ID 'seven' is invalid/);
}

test('anvil ipmi sel get, as ipmitool on anvil bmc fake', TIMEOUT, async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const port = await startFake(t);
  const common = ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E'];
  for (const action of ['on', 'off']) assert.equal((await anvil([...common, 'power', action])).code, 0);
  const ids = [
    1, // the power unit's event: no sensor record has its number
    addSel(common, [0, 0, 0x02, 0, 0, 0, 0, 0x20, 0, 0x04, 0x01, 0x01, 0x01, 0x59, 0x30, 0x5f]), // CPU Temp upper critical, with trigger reading and threshold
    addSel(common, [0, 0, 0x02, 0, 0, 0, 0, 0x20, 0, 0x04, 0x02, 0x02, 0x81, 0x07, 0xff, 0xff]), // 12V, deasserted, bytes 2-3 unspecified
    addSel(common, [0, 0, 0xc1, 1, 2, 3, 4, 0x57, 0x01, 0x00, 0x41, 0x42, 0x43, 0x0a, 0x45, 0x7f]), // OEM timestamped (pre-init time)
    addSel(common, [0, 0, 0xe2, 1, 2, 3, 4, 0x57, 0x01, 0x00, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46]), // OEM without timestamp
  ];
  const theirs = ipmitool([...common, 'sel', 'get', String(ids[1])]).stdout;
  assert.match(theirs, /^ Trigger Reading {7}: 48\.000degrees C$/m);
  assert.match(theirs, /^Sensor ID {14}: CPU Temp \(0x1\)$/m);
  await selGetAgrees(common, ids);
});

test('anvil ipmi sel get, as ipmitool on ipmi_sim', TIMEOUT, async (t) => {
  if (!havePeers(t, 'ipmi_sim', 'ipmitool')) return;
  const sim = await startIpmiSim(t);
  const common = ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(sim.port), '-U', USER, '-E'];
  // ipmi_sim starts with entry 1 (CPU Temp, sensor 0x30); one more for the watchdog's sensor-specific events.
  const ids = [1, addSel(common, [0, 0, 0x02, 0, 0, 0, 0, 0x20, 0, 0x04, 0x23, 0x31, 0x6f, 0x01, 0xff, 0xff])];
  await selGetAgrees(common, ids);
});
