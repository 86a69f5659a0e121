// `anvil ipmi` commands that change the BMC (user set name|password, user enable, sel delete)
// and -a, against ipmitool doing the same on the same BMC: ipmi_sim and anvil bmc fake. The
// new password reaches anvil on stdin, never on its command line, and ipmitool logs in with it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { havePeers } from '../helpers/peers.ts';
import { PASSWORD, startIpmiSim, USER } from './client-peers.ts';
import { startFake } from './cli-helpers.ts';

const ANVIL = join(import.meta.dirname, '../../bin/anvil');
const env = { ...process.env, IPMI_PASSWORD: PASSWORD };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function anvil(args: string[], input = ''): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(ANVIL, ['ipmi', ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

function ipmitool(args: string[], input = ''): Result {
  const r = spawnSync('ipmitool', args, { env, input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Users 3 (by anvil) and 4 (by ipmitool) get a name, a password and are enabled; both then log in. */
async function usersAgree(common: string[], login: string[]): Promise<void> {
  const ours = [
    await anvil([...common, 'user', 'set', 'name', '3', 'ops3']),
    await anvil([...common, 'user', 'set', 'password', '3'], 'pw-three\npw-three\n'),
    await anvil([...common, 'user', 'enable', '3']),
  ];
  const theirs = [
    ipmitool([...common, 'user', 'set', 'name', '4', 'ops4']),
    ipmitool([...common, 'user', 'set', 'password', '4'], 'pw-four\npw-four\n'),
    ipmitool([...common, 'user', 'enable', '4']),
  ];
  for (const [i, r] of ours.entries()) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.replace('user 3', 'user N'), theirs[i]!.stdout.replace('user 4', 'user N'));
  }
  assert.equal(ours[1]!.stdout, 'Set User Password command successful (user 3)\n');
  assert.match(ours[1]!.stderr, /^Password for user 3: Password for user 3: $/);
  // The lines of `user list` for both users read the same but for id and name.
  const list = ipmitool([...common, 'user', 'list']).stdout.split('\n');
  const line = (id: number) => (list.find((l) => l.startsWith(`${id} `)) ?? '').replace(/^\d+\s+ops\d/, '');
  assert.ok(line(3).length > 0);
  assert.equal(line(3), line(4));
  // Let user 3 in over the LAN channel, then log in with the password anvil set.
  for (const [uid, pw] of [
    [3, 'pw-three'],
    [4, 'pw-four'],
  ] as const) {
    assert.equal(ipmitool([...common, 'user', 'priv', String(uid), '4', '1']).code, 0);
    ipmitool([...common, 'channel', 'setaccess', '1', String(uid), 'ipmi=on', 'privilege=4']);
    const r = ipmitool([...login, '-U', `ops${uid}`, '-P', pw, 'power', 'status']);
    assert.match(r.stdout, /^Chassis Power is (on|off)\n$/, r.stderr);
  }
  // -a asks: the first line of stdin when it is not a terminal, as ipmitool's getpass does.
  const asked = await anvil([...login, '-U', 'ops3', '-a', 'power', 'status'], 'pw-three\n');
  assert.equal(asked.stdout, ipmitool([...login, '-U', 'ops3', '-a', 'power', 'status'], 'pw-three\n').stdout);
  assert.match(asked.stderr, /^Password: $/);
  // Never from the command line, and two answers that differ change nothing.
  const visible = await anvil([...common, 'user', 'set', 'password', '3', 'shown']);
  assert.equal(visible.code, 2);
  assert.match(visible.stderr, /visible to every local user/);
  const mismatch = await anvil([...common, 'user', 'set', 'password', '3'], 'one\ntwo\n');
  assert.notEqual(mismatch.code, 0);
  assert.match(mismatch.stderr, /do not match/);
  assert.match(ipmitool([...login, '-U', 'ops3', '-P', 'pw-three', 'power', 'status']).stdout, /Chassis Power/);
}

test('anvil ipmi user set name|password, user enable, -a and sel delete, as ipmitool on ipmi_sim', async (t) => {
  if (!havePeers(t, 'ipmi_sim', 'ipmitool')) return;
  const sim = await startIpmiSim(t);
  const login = ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(sim.port)];
  const common = [...login, '-U', USER, '-E'];
  await usersAgree(common, login);

  // ipmi_sim starts with SEL entry 1; ipmitool adds entry 2 (Add SEL Entry, §31.6) to delete itself.
  const added = ipmitool([
    ...common,
    'raw',
    '0x0a',
    '0x44',
    '0',
    '0',
    '0x02',
    '0',
    '0',
    '0',
    '0',
    '0x20',
    '0',
    '0x04',
    '0x01',
    '0x30',
    '0x01',
    '0x59',
    '0x5a',
    '0x5a',
  ]);
  assert.equal(added.code, 0, added.stderr);
  const ours = await anvil([...common, 'sel', 'delete', '1']);
  const theirs = ipmitool([...common, 'sel', 'delete', '2']);
  assert.equal(ours.stdout, 'Deleted entry 1\n', ours.stderr);
  assert.equal(theirs.stdout, 'Deleted entry 2\n');
  const again = await anvil([...common, 'sel', 'delete', '1']);
  const theirAgain = ipmitool([...common, 'sel', 'delete', '1']);
  assert.equal(again.code, 1);
  assert.equal(theirAgain.code, 1);
  assert.equal(again.stdout, theirAgain.stdout);
  assert.match(again.stderr, /Unable to delete entry 1: /);
  // An empty SEL: nothing on stdout, and ipmitool's words on stderr.
  const empty = await anvil([...common, 'sel', 'list']);
  assert.equal(empty.stdout, ipmitool([...common, 'sel', 'list']).stdout);
  assert.equal(empty.stderr, 'SEL has no entries\n');
  // sel clear, after ipmitool has logged one more event to clear.
  assert.equal(
    ipmitool([...common, 'raw', '0x0a', '0x44', '0', '0', '0x02', '0', '0', '0', '0', '0x20', '0', '0x04', '0x01', '0x30', '0x01', '0x59', '0x5a', '0x5a'])
      .code,
    0,
  );
  const cleared = await anvil([...common, 'sel', 'clear']);
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.match(ipmitool([...common, 'sel', 'info']).stdout, /Entries +: 0\n/);
  assert.equal(cleared.stdout, ipmitool([...common, 'sel', 'clear']).stdout);
});

test('anvil ipmi user set name|password, user enable and -a, as ipmitool on anvil bmc fake', async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const port = await startFake(t);
  const login = ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port)];
  const common = [...login, '-U', USER, '-E'];
  await usersAgree(common, login);
  // The emulator has no Delete SEL Entry: both say so and fail.
  const ours = await anvil([...common, 'sel', 'delete', '1']);
  const theirs = ipmitool([...common, 'sel', 'delete', '1']);
  assert.equal(ours.code, 1);
  assert.equal(theirs.code, 1);
  assert.equal(ours.stdout, theirs.stdout);
  assert.match(ours.stderr, /Unable to delete entry 1: invalid command/);
});
