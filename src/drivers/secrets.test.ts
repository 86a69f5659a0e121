import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretBox, isSecretField, maskDriverInfo, MASK } from './secrets.ts';
import { ManualHardware } from './manual.ts';

test('secrets: sealed with a 0600 key made on first use, opened again by a second box', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-secret-'));
  const path = join(dir, 'secret.key');
  const box = new SecretBox(path);
  const sealed = box.seal({ ipmi_address: 'bmc1', ipmi_password: 'hunter2', ipmi_kg: 'kg-value', ipmi_port: 623 });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(sealed.ipmi_address, 'bmc1');
  assert.equal(sealed.ipmi_port, 623);
  assert.match(String(sealed.ipmi_password), /^enc:v1:/);
  assert.doesNotMatch(JSON.stringify(sealed), /hunter2|kg-value/);
  assert.deepEqual(box.seal(sealed), sealed, 'sealing twice changes nothing');
  assert.deepEqual(new SecretBox(path).open(sealed), { ipmi_address: 'bmc1', ipmi_password: 'hunter2', ipmi_kg: 'kg-value', ipmi_port: 623 });
  writeFileSync(
    join(dir, 'other.key'),
    readFileSync(path, 'utf8').replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
  );
  assert.throws(() => new SecretBox(join(dir, 'other.key')).open(sealed), { code: 'SECRET_UNREADABLE' });
});

test('secrets: which fields are secret, and masking', () => {
  for (const k of ['ipmi_password', 'amt_password', 'redfish_password', 'ipmi_kg', 'password']) assert.ok(isSecretField(k), k);
  for (const k of ['ipmi_address', 'ipmi_username', 'amt_port', 'passwords_hint']) assert.ok(!isSecretField(k), k);
  assert.deepEqual(maskDriverInfo({ amt_address: 'a', amt_password: 'enc:v1:x', ipmi_kg: '' }), { amt_address: 'a', amt_password: MASK, ipmi_kg: '' });
});

test('manual: no controller, power unknown, actions refused saying the machine reboots itself', async () => {
  const hardware = new ManualHardware();
  assert.throws(() => hardware.validate('lab-3', { ipmi_address: 'x' }), /unknown field ipmi_address/);
  const driver = hardware.create(hardware.validate('lab-3', {}), { machine: 'lab-3', state: { get: async () => ({}), set: async () => {} } });
  assert.equal(await driver.power.getPowerState(), 'unknown');
  assert.deepEqual(await driver.management.getBootDevice(), { device: 'pxe', persistent: true });
  for (const action of [driver.power.setPowerState('on'), driver.power.reboot(), driver.management.setBootDevice('pxe')]) {
    await assert.rejects(
      action,
      (e: Error & { code?: string }) => e.code === 'NO_CONTROLLER' && /machine 'lab-3' has no management controller.*reboots itself/.test(e.message),
    );
  }
});
