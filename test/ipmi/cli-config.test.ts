// `anvil ipmi user priv`, `lan set` and `sol info` against ipmitool running the same commands
// on the same BMC, anvil's emulator (anvil bmc fake) and OpenIPMI's ipmi_sim: the same stdout
// and exit status, and each change seen by the other tool afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { havePeers } from '../helpers/peers.ts';
import { startIpmiSim, USER } from './client-peers.ts';
import { anvil, CLI_TEST_TIMEOUT as TIMEOUT, ipmitool, same, startFake } from './cli-helpers.ts';

const privilegeOf = (list: string, uid: number) =>
  list
    .split('\n')
    .find((l) => l.startsWith(`${uid} `))
    ?.trim()
    .split(/\s+/)
    .slice(-1)[0];
const lanValue = (print: string, label: string) =>
  print
    .split('\n')
    .find((l) => l.startsWith(label.padEnd(24)))
    ?.slice(26);

/** The checks both BMCs pass; `lanChannel` is the BMC's LAN channel. */
async function configAgrees(common: string[], lanChannel: number): Promise<void> {
  const ch = String(lanChannel);
  // sol info: every form, and the CSV one.
  for (const command of [
    ['sol', 'info'],
    ['sol', 'info', ch],
    ['-c', 'sol', 'info'],
  ])
    await same(common, command);

  // user priv: anvil and ipmitool each change user 3's limit; the other's user list shows it.
  const priv = await same(common, ['user', 'priv', '3', '2', ch]);
  assert.equal(priv.stdout, 'Set Privilege Level command successful (user 3)\n');
  assert.equal(privilegeOf(ipmitool([...common, 'user', 'list', ch]).stdout, 3), 'USER');
  await anvil([...common, 'user', 'priv', '3', '3', ch]);
  assert.equal(privilegeOf(ipmitool([...common, 'user', 'list', ch]).stdout, 3), 'OPERATOR');
  assert.equal(ipmitool([...common, 'user', 'priv', '3', '4', ch]).code, 0);
  assert.equal(privilegeOf((await anvil([...common, 'user', 'list', ch])).stdout, 3), 'ADMINISTRATOR');
  const badLevel = await anvil([...common, 'user', 'priv', '3', '7']);
  assert.equal(badLevel.code, 2);
  assert.match(badLevel.stderr, /privilege level '7' is not 1 to 5 or 15/);

  // lan set: anvil writes, ipmitool reads back (and the other way round), with the same lines printed.
  for (const [command, label, value] of [
    [['ipaddr', '10.9.8.7'], 'IP Address', '10.9.8.7'],
    [['netmask', '255.255.252.0'], 'Subnet Mask', '255.255.252.0'],
    [['defgw', 'ipaddr', '10.9.8.1'], 'Default Gateway IP', '10.9.8.1'],
    [['ipsrc', 'static'], 'IP Address Source', 'Static Address'],
    [['macaddr', '52:54:0:AA:bb:cc'], 'MAC Address', '52:54:00:aa:bb:cc'],
    [['defgw', 'macaddr', '52:54:00:aa:bb:01'], 'Default Gateway MAC', '52:54:00:aa:bb:01'],
  ] as const) {
    const ours = await anvil([...common, 'lan', 'set', ch, ...command]);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(lanValue(ipmitool([...common, 'lan', 'print', ch]).stdout, label), value, label);
    const theirs = ipmitool([...common, 'lan', 'set', ch, ...command]);
    assert.equal(ours.stdout, theirs.stdout, command.join(' '));
  }
  assert.equal(ipmitool([...common, 'lan', 'set', ch, 'ipaddr', '10.9.8.6']).code, 0);
  assert.equal(lanValue((await anvil([...common, 'lan', 'print', ch])).stdout, 'IP Address'), '10.9.8.6');
  // A write the BMC refuses (Set LAN Configuration Parameters wants administrator): the line, then failure.
  const refused = await same(common, ['-L', 'OPERATOR', 'lan', 'set', ch, 'ipaddr', '10.9.8.5']);
  assert.equal(refused.stdout, 'Setting LAN IP Address to 10.9.8.5\n');
  assert.match(refused.stderr, /insufficient privilege level/);
  assert.equal(lanValue(ipmitool([...common, 'lan', 'print', ch]).stdout, 'IP Address'), '10.9.8.6');
  const badIp = await anvil([...common, 'lan', 'set', ch, 'ipaddr', '10.9.8']);
  assert.equal(badIp.code, 2);
  assert.match(badIp.stderr, /invalid IP address: 10\.9\.8/);
  const notLan = await anvil([...common, 'lan', 'set', '0', 'ipaddr', '10.0.0.1']);
  assert.equal(notLan.code, 2);
  assert.match(notLan.stderr, /channel 0 is not a LAN channel/);
  assert.notEqual(ipmitool([...common, 'lan', 'set', '0', 'ipaddr', '10.0.0.1']).code, 0);
}

test('anvil ipmi user priv, lan set and sol info, as ipmitool on anvil bmc fake', TIMEOUT, async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const port = await startFake(t);
  const common = ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E'];
  await configAgrees(common, 1);
  // lan set access: both sets of Get Channel Access say so; off, the BMC takes no more IPMI messages.
  const accessMode = (text: string) => [...text.matchAll(/Access Mode +: (.*)/g)].map((m) => m[1]);
  assert.equal((await same(common, ['lan', 'set', '1', 'access', 'on'])).stdout, 'Set Channel Access for channel 1 was successful.\n');
  assert.deepEqual(accessMode(ipmitool([...common, 'channel', 'info', '1']).stdout), ['always available', 'always available']);
  const off = await anvil([...common, 'lan', 'set', '1', 'access', 'off']);
  assert.equal(off.code, 0, off.stderr);
  assert.equal(off.stdout, 'Set Channel Access for channel 1 was successful.\n');
  const quick = ['-N', '1', '-R', '0'];
  assert.notEqual(ipmitool([...quick, ...common, 'power', 'status']).code, 0);
  const locked = await anvil([...quick, ...common, 'power', 'status']);
  assert.equal(locked.code, 1);
  assert.match(locked.stderr, /IPMI_TIMEOUT/);
});

test('anvil ipmi user priv, lan set and sol info, as ipmitool on ipmi_sim', TIMEOUT, async (t) => {
  if (!havePeers(t, 'ipmi_sim', 'ipmitool')) return;
  const sim = await startIpmiSim(t);
  const common = ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(sim.port), '-U', USER, '-E'];
  await configAgrees(common, 1);
  // ipmi_sim keeps its channel access fixed (Set Channel Access answers 0x83): both tools fail, printing nothing.
  const access = await same(common, ['lan', 'set', '1', 'access', 'off']);
  assert.notEqual(access.code, 0);
  assert.equal(access.stdout, '');
  assert.match(ipmitool([...common, 'channel', 'info', '1']).stdout, /Access Mode +: always available/);
});
