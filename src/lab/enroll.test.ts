// Which controller a lab VM is enrolled with, and the VMs anvil could not reach.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LabStore } from './store.ts';
import { enrollmentsFor, pickEnrollment } from './enroll.ts';
import type { LabBmcKind } from './definition.ts';

const store = new LabStore('/tmp/anvil-enroll-unit');
const vm = (kind: LabBmcKind | undefined, ipmiPort = 6230, amtPort = 16992) =>
  store.define({
    name: 'vm1',
    mac: '52:54:00:00:00:01',
    ...(kind ? { bmc: { kind, address: '127.0.0.2', ipmiPort, amtPort, user: 'root', password: 'pw' } } : {}),
  });
const invalid = (pattern: RegExp) => (e: unknown) => (e as { code?: string }).code === 'LAB_INVALID' && pattern.test((e as Error).message);

test("driver_info points at the VM's controller: ipmi, amt, or both (ipmi first)", () => {
  assert.deepEqual(
    enrollmentsFor(vm('both')).map((e) => [e.driver, e.endpoint]),
    [
      ['ipmi', '127.0.0.2:6230'],
      ['amt', '127.0.0.2:16992'],
    ],
  );
  assert.deepEqual(pickEnrollment(vm('ipmi')).driverInfo, { ipmi_address: '127.0.0.2', ipmi_port: 6230, ipmi_username: 'root', ipmi_password: 'pw' });
  assert.deepEqual(pickEnrollment(vm('amt')).driverInfo, {
    amt_address: '127.0.0.2',
    amt_port: 16992,
    amt_username: 'root',
    amt_password: 'pw',
    amt_protocol: 'http',
  });
  assert.equal(pickEnrollment(vm('both')).driver, 'ipmi');
  assert.equal(pickEnrollment(vm('both'), 'amt').driver, 'amt');
  assert.deepEqual(pickEnrollment(vm('both')).macs, ['52:54:00:00:00:01']);
});

test('refused: no controller, not the controller asked for, a port chosen anew at each lab up', () => {
  assert.throws(() => pickEnrollment(vm(undefined)), invalid(/vm1 has no controller/));
  assert.throws(() => pickEnrollment(vm('ipmi'), 'amt'), invalid(/no amt controller.*--bmc both/));
  assert.throws(() => pickEnrollment(vm('ipmi', 0)), invalid(/port is 0.*--bmc-port/));
  assert.throws(() => pickEnrollment(vm('both', 6230, 0), 'amt'), invalid(/AMT port is 0.*--amt-port/));
  assert.equal(pickEnrollment(vm('both', 6230, 0)).driver, 'ipmi', 'the AMT port does not matter when ipmi is used');
});
