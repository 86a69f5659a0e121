// `anvil ipmi sensor get` and `sensor thresh` against ipmitool running the same commands on the
// same BMC (anvil bmc fake, OpenIPMI's ipmi_sim): the same stdout and exit status, the same raw
// thresholds written for the same values, and a crossed threshold seen in the status lines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { havePeers } from '../helpers/peers.ts';
import { startIpmiSim, USER } from './client-peers.ts';
import { anvil, CLI_TEST_TIMEOUT as TIMEOUT, ipmitool, same, startFake } from './cli-helpers.ts';

/** Writes with one tool, then the other, from the same starting point: ipmitool's sensor list must read the same after each. */
async function sameWrite(common: string[], command: string[], reset: string[]): Promise<void> {
  assert.equal(ipmitool([...common, ...reset]).code, 0, reset.join(' '));
  const ours = await anvil([...common, ...command]);
  assert.equal(ours.code, 0, ours.stderr);
  const afterOurs = ipmitool([...common, 'sensor', 'list']).stdout;
  assert.equal(ipmitool([...common, ...reset]).code, 0);
  assert.notEqual(ipmitool([...common, 'sensor', 'list']).stdout, afterOurs, `${command.join(' ')} changed nothing`);
  const theirs = ipmitool([...common, ...command]);
  assert.equal(ours.stdout, theirs.stdout, command.join(' '));
  assert.equal(ipmitool([...common, 'sensor', 'list']).stdout, afterOurs, command.join(' '));
}

test('anvil ipmi sensor get and sensor thresh, as ipmitool on anvil bmc fake', TIMEOUT, async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const port = await startFake(t);
  const common = ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E'];
  await same(common, ['sensor', 'get', 'CPU Temp']);
  await same(common, ['sensor', 'get', '12V', 'Fan 1', 'CPU Temp']);
  await same(common, ['-c', 'sensor', 'get', '12V', 'Fan 1']);
  // A name no record has: said on stderr, the others still printed, exit status 1.
  const missing = await same(common, ['sensor', 'get', 'Fan 1', 'Fan 9'], { stderr: true });
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Sensor data record "Fan 9" not found!\n');

  await sameWrite(common, ['sensor', 'thresh', 'CPU Temp', 'ucr', '97'], ['sensor', 'thresh', 'CPU Temp', 'ucr', '95']);
  await sameWrite(common, ['sensor', 'thresh', '12V', 'upper', '12.5', '13.1', '13.7'], ['sensor', 'thresh', '12V', 'upper', '12.6', '13.2', '13.8']);
  await sameWrite(common, ['sensor', 'thresh', 'Fan 1', 'lower', '500', '800', '1000'], ['sensor', 'thresh', 'Fan 1', 'lower', '320', '512', '640']);
  // Out of order, or no such sensor: refused by both, with ipmitool's words.
  assert.equal((await same(common, ['sensor', 'thresh', 'CPU Temp', 'unc', '200'], { stderr: true })).code, 1);
  assert.equal((await same(common, ['sensor', 'thresh', 'Nope', 'lnc', '1'], { stderr: true })).stderr, 'Sensor data record not found!\n');
  const bad = await anvil([...common, 'sensor', 'thresh', 'CPU Temp', 'ucr', 'hot']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /'hot' is not a number/);

  // The upper non-critical threshold below the reading: the status and the event status say so.
  await same(common, ['sensor', 'thresh', 'CPU Temp', 'unc', '10']);
  const crossed = await same(common, ['sensor', 'get', 'CPU Temp']);
  assert.match(crossed.stdout, /^ Status {16}: Upper Non-Critical$/m);
  assert.match(crossed.stdout, /^ Assertion Events {6}: unc\+ $/m);
});

test('anvil ipmi sensor get and sensor thresh, as ipmitool on ipmi_sim', TIMEOUT, async (t) => {
  if (!havePeers(t, 'ipmi_sim', 'ipmitool')) return;
  const sim = await startIpmiSim(t);
  const common = ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(sim.port), '-U', USER, '-E'];
  await same(common, ['sensor', 'get', 'CPU Temp']);
  await same(common, ['sensor', 'get', 'Watchdog', 'CPU Temp']);
  await same(common, ['-c', 'sensor', 'get', 'Watchdog', 'CPU Temp']);
  // ipmi_sim's sensors take no new thresholds (0xCC): both tools say so in the same words, and fail.
  const refused = await same(common, ['sensor', 'thresh', 'CPU Temp', 'ucr', '91'], { stderr: true });
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, 'Error setting threshold: Invalid data field in request\n');
  await same(common, ['sensor', 'thresh', 'CPU Temp', 'upper', '81', '92', '99'], { stderr: true });
  await same(common, ['sensor', 'thresh', 'Watchdog', 'lnc', '1'], { stderr: true });
});
