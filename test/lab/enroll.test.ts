// anvil lab vm create --enroll as a user runs it: the VM becomes an anvil machine whose driver
// points at its controller (the password encrypted at rest, masked when shown); enrolling
// again updates the machine; what cannot be enrolled leaves nothing behind; vm delete keeps
// the machine and says so.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ANVIL, PXEMNGR, exec, tempDir } from '../helpers/anvil-process.ts';
import { openServices } from '../../src/app/compose.ts';

const PASSWORD = 'enroll-Pw-31';

test("lab vm create --enroll: a machine with the VM's MAC and driver, updated when enrolled again, kept by vm delete", async (t) => {
  const data = tempDir('anvil-lab-');
  t.after(() => rm(data, { recursive: true, force: true }));
  writeFileSync(join(data, 'pw'), `${PASSWORD}\n`);
  const lab = (...args: string[]) => exec(ANVIL, ['lab', ...args, '--data', data]);
  const machine = (...args: string[]) => exec(ANVIL, ['machine', '--data', data, ...args]);

  const created = await lab(
    'vm',
    'create',
    'en1',
    '--mac',
    '52:54:00:ee:00:01',
    '--disk',
    'none',
    '--bmc',
    'both',
    '--bmc-port',
    '16230',
    '--amt-port',
    '16992',
    '--bmc-password-file',
    join(data, 'pw'),
    '--enroll',
  );
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /^enrolled machine en1: driver ipmi at 127\.0\.0\.1:16230$/m);
  const shown = await machine('--json', 'show', 'en1');
  assert.deepEqual(JSON.parse(shown.stdout).driverInfo, { ipmi_address: '127.0.0.1', ipmi_port: 16230, ipmi_username: 'admin', ipmi_password: '******' });
  assert.match((await exec(PXEMNGR, ['--data', data, 'dpysystem', 'en1'])).stdout, /52:54:00:ee:00:01/);
  const services = await openServices({ data });
  try {
    const row = await services.machines.byName('en1');
    assert.ok(row && !row.driver_info.includes(PASSWORD), 'the password is encrypted at rest');
    assert.match(row.driver_info, /"ipmi_password":"enc:v1:/);
  } finally {
    await services.close();
  }
  assert.ok(!readFileSync(join(data, 'anvil.db')).includes(PASSWORD), 'nor anywhere in the database file');

  // The VM is deleted and made again with another MAC, port and controller: the machine is updated, not refused.
  const deleted = await lab('vm', 'delete', 'en1');
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /anvil machine en1 \(driver ipmi\) still exists; 'pxemngr delsystem en1' removes it/);
  assert.equal((await machine('show', 'en1')).code, 0, 'vm delete leaves the machine alone');
  const again = await lab(
    'vm',
    'create',
    'en1',
    '--mac',
    '52:54:00:ee:00:02',
    '--disk',
    'none',
    '--bmc',
    'both',
    '--bmc-port',
    '16231',
    '--amt-port',
    '16993',
    '--enroll-driver',
    'amt',
    '--ssh-port',
    '16222',
  );
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stdout,
    /machine en1 already existed: updated to driver amt at 127\.0\.0\.1:16993 \(was ipmi\); added MAC 52:54:00:ee:00:02; kept its other MAC 52:54:00:ee:00:01; SSH at 127\.0\.0\.1:16222 \(properties address, ssh_port\)/,
  );
  const amt = JSON.parse((await machine('--json', 'show', 'en1')).stdout);
  assert.equal(amt.driver, 'amt');
  assert.deepEqual(
    amt.driverInfo,
    { amt_address: '127.0.0.1', amt_port: 16993, amt_username: 'admin', amt_password: '******', amt_protocol: 'http' },
    'no ipmi_* field lingers',
  );
  assert.deepEqual(amt.properties, { address: '127.0.0.1', ssh_port: 16222 }, 'VCL reaches its SSH through the forward');
  const vm = await lab('vm', 'show', 'en1', '--json');
  assert.equal(JSON.parse(vm.stdout).sshPort, 16222);
  assert.match((await machine('events', 'en1')).stdout, /driver amt \(was ipmi\)/);
});

test('lab vm create --enroll refuses what anvil could not reach, before writing anything; a MAC of another machine leaves no VM', async (t) => {
  const data = tempDir('anvil-lab-');
  t.after(() => rm(data, { recursive: true, force: true }));
  const lab = (...args: string[]) => exec(ANVIL, ['lab', ...args, '--data', data]);

  const anyPort = await lab('vm', 'create', 'en2', '--mac', '52:54:00:ee:00:03', '--disk', 'none', '--bmc-port', '0', '--enroll');
  assert.equal(anyPort.code, 1);
  assert.match(anyPort.stderr, /port is 0.*--bmc-port \[LAB_INVALID\]/);
  const noAmt = await lab('vm', 'create', 'en2', '--mac', '52:54:00:ee:00:03', '--disk', 'none', '--bmc-port', '16232', '--enroll-driver', 'amt');
  assert.equal(noAmt.code, 1);
  assert.match(noAmt.stderr, /no amt controller/);
  const noRedfish = await lab('vm', 'create', 'en2', '--mac', '52:54:00:ee:00:03', '--disk', 'none', '--bmc-port', '16232', '--enroll-driver', 'redfish');
  assert.equal(noRedfish.code, 1);
  assert.match(noRedfish.stderr, /no redfish controller \(its controller is ipmi\); create it with --bmc redfish/);
  const badDriver = await lab('vm', 'create', 'en2', '--mac', '52:54:00:ee:00:03', '--enroll-driver', 'ilo');
  assert.equal(badDriver.code, 2);
  assert.match(badDriver.stderr, /--enroll-driver 'ilo' must be one of ipmi, amt, redfish/);
  assert.equal(existsSync(join(data, 'anvil.db')), false, 'nothing enrolled, no database made');
  assert.equal((await lab('vm', 'list', '--json')).stdout.trim(), '[]');

  assert.equal((await exec(PXEMNGR, ['--data', data, 'addsystem', 'other', '52:54:00:ee:00:04'])).code, 0);
  const taken = await lab('vm', 'create', 'en3', '--mac', '52:54:00:ee:00:04', '--disk', 'none', '--bmc-port', '16233', '--enroll');
  assert.equal(taken.code, 1);
  assert.match(taken.stderr, /MAC 52:54:00:ee:00:04 already belongs to machine 'other'/);
  assert.equal((await lab('vm', 'list', '--json')).stdout.trim(), '[]', 'the VM whose enrollment failed is gone');
  // Without --enroll, vm delete says nothing of machines.
  assert.equal((await lab('vm', 'create', 'en4', '--mac', '52:54:00:ee:00:05', '--disk', 'none', '--bmc-port', '0')).code, 0);
  assert.equal((await lab('vm', 'delete', 'en4')).stdout, 'deleted lab VM en4\n');
});
