// bin/anvil machine as a user runs it: set a driver, power and boot device, masked show,
// usage errors, and a locked machine refused naming the holder (the same lock as the server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANVIL, PXEMNGR, exec, tempDir } from '../helpers/anvil-process.ts';
import { openServices } from '../../src/app/compose.ts';

test('anvil machine: set, power, bootdev, show, events, usage errors and locks', async () => {
  const data = tempDir();
  mkdirSync(join(data, 'tftp/pxelinux.cfg/profiles'), { recursive: true });
  writeFileSync(join(data, 'tftp/pxelinux.cfg/profiles/local.prof'), 'LOCALBOOT 0\n');
  writeFileSync(join(data, 'pw'), 'file-Pw-77\n');
  assert.equal((await exec(PXEMNGR, ['--data', data, 'addsystem', 'node1', '52:54:00:00:20:01'])).code, 0);
  const machine = (...args: string[]) => exec(ANVIL, ['machine', '--data', data, ...args]);

  const set = await machine('set', 'node1', '--driver', 'fake', '--password-file', join(data, 'pw'));
  assert.deepEqual([set.code, set.stdout], [0, 'node1: driver fake\n']);
  // Each CLI run is its own process, so the fake machine starts off each time: power on waits and reports on.
  assert.deepEqual(await machine('power', 'node1', 'on', '--timeout', '5'), { code: 0, stdout: 'node1: power on\n', stderr: '' });
  assert.equal((await machine('bootdev', 'node1', 'pxe', '--persistent', '--uefi')).stdout, 'node1: boot device pxe (persistent, UEFI)\n');
  const shown = await machine('show', 'node1');
  assert.match(shown.stdout, /fake_password: \*\*\*\*\*\*/);
  assert.match(shown.stdout, /power: +on/);
  assert.doesNotMatch(shown.stdout, /file-Pw-77/);
  const json = JSON.parse((await machine('--json', 'show', 'node1')).stdout) as { driverInfo: Record<string, string> };
  assert.equal(json.driverInfo.fake_password, '******');
  assert.match((await machine('events', 'node1')).stdout, /boot-device +boot device pxe \(persistent, UEFI\)/);

  const usage = await machine('bootdev', 'node1', 'floppy');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown boot device 'floppy'/);
  const invalid = await machine('set', 'node1', '--driver', 'amt', '--driver-info', 'amt_protocol=gopher');
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /amt_address is missing; amt_password is missing; amt_protocol must be one of http, https/);

  const services = await openServices({ data });
  try {
    await services.store.db
      .updateTable('machines')
      .set({ reservation: 'anvil serve (pid 7 on lab2): power reboot (bob)' })
      .where('name', '=', 'node1')
      .execute();
  } finally {
    await services.close();
  }
  const locked = await machine('power', 'node1', 'off');
  assert.equal(locked.code, 1);
  assert.match(locked.stderr, /machine 'node1' is locked by anvil serve \(pid 7 on lab2\): power reboot \(bob\)/);
  assert.equal((await machine('unlock', 'node1')).stdout, 'node1: released the lock held by anvil serve (pid 7 on lab2): power reboot (bob)\n');
  assert.equal((await machine('power', 'node1', 'off')).stdout, 'node1: power off\n');
});

test('anvil machine discovered and forget: the unknown machines that asked to boot', async () => {
  const data = tempDir();
  const services = await openServices({ data });
  try {
    await services.discovered.record('52:54:00:00:30:01', { loader: 'pxelinux', address: '192.0.2.31' });
  } finally {
    await services.close();
  }
  const machine = (...args: string[]) => exec(ANVIL, ['machine', '--data', data, ...args]);
  const listed = await machine('discovered');
  assert.equal(listed.code, 0);
  assert.match(listed.stdout, /^MAC +ARCH +LOADER +ADDRESS/);
  assert.match(listed.stdout, /52:54:00:00:30:01 +- +pxelinux +192\.0\.2\.31 .* 1\n$/);
  assert.deepEqual(await machine('forget', '52-54-00-00-30-01'), { code: 0, stdout: '52-54-00-00-30-01: forgotten\n', stderr: '' });
  const again = await machine('forget', '52:54:00:00:30:01');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /not among the discovered machines \(bin\/anvil machine discovered lists them\)/);
  assert.equal((await machine('discovered')).stdout, 'no unknown machine has asked to boot\n');
});

test('anvil machine set refuses a password in --driver-info, pointing to --password-file and --password-env', async () => {
  const data = tempDir();
  mkdirSync(join(data, 'tftp/pxelinux.cfg/profiles'), { recursive: true });
  writeFileSync(join(data, 'tftp/pxelinux.cfg/profiles/local.prof'), 'LOCALBOOT 0\n');
  assert.equal((await exec(PXEMNGR, ['--data', data, 'addsystem', 'node1', '52:54:00:00:20:01'])).code, 0);
  const machine = (...args: string[]) => exec(ANVIL, ['machine', '--data', data, ...args]);
  for (const field of ['ipmi_password', 'redfish_password', 'amt_password']) {
    const refused = await machine('set', 'node1', '--driver', 'ipmi', '--driver-info', `ipmi_address=127.0.0.1,${field}=Secret-Pw-9`);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, new RegExp(`${field} is not taken on the command line.*--password-file FILE.*--password-env VAR`));
    assert.doesNotMatch(refused.stderr, /Secret-Pw-9/);
  }
  const shown = await machine('show', 'node1');
  assert.doesNotMatch(shown.stdout, /driver: +ipmi/, 'nothing was changed');
  // Removing a password (an empty value) is no secret on the command line.
  const cleared = await machine('set', 'node1', '--driver', 'fake', '--driver-info', 'fake_password=');
  assert.equal(cleared.code, 0, cleared.stderr);
});
