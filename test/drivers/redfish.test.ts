// The redfish driver against the contract, over HTTPS on loopback to anvil's emulated Redfish
// BMC (the server behind `anvil bmc redfish`), its CA given through redfish_verify_ca; plus: a
// wrong password is a clear authentication error without the password, validate names every
// problem, and without the CA the certificate does not verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryRedfishHandler, RedfishEmulator, generateCertificate } from '../../src/protocols/redfish/index.ts';
import type { ResetType } from '../../src/protocols/redfish/index.ts';
import { RedfishHardware } from '../../src/drivers/redfish.ts';
import type { BootDevice } from '../../src/drivers/types.ts';
import { tempDir } from '../helpers/anvil-process.ts';
import { which, inCI } from '../helpers/peers.ts';
import { driverContract, memoryState } from './contract.ts';

const PASSWORD = 'Rf-Driver-Pass-1';
const FROM_REDFISH: Readonly<Record<string, BootDevice | 'default'>> = { Pxe: 'pxe', Hdd: 'disk', Cd: 'cdrom', BiosSetup: 'bios', default: 'default' };

class StuckableHandler extends MemoryRedfishHandler {
  stuck = false;
  override async reset(type: ResetType): Promise<void> {
    if (!this.stuck) await super.reset(type);
  }
}

if (!which('openssl') && inCI) throw new Error('missing peer: openssl; install it with scripts/install --test');

async function start() {
  const tls = await generateCertificate('redfish-driver-test');
  const handler = new StuckableHandler();
  const emulator = new RedfishEmulator({ password: PASSWORD, handler, port: 0, tls });
  const { url } = await emulator.listen();
  const caFile = join(tempDir(), 'ca.pem');
  writeFileSync(caFile, tls.ca);
  const hardware = new RedfishHardware({ client: { requestTimeoutMs: 5000 }, pollMs: 20 });
  return { handler, emulator, url, caFile, hardware };
}

driverContract('redfish', async () => {
  const { handler, emulator, url, caFile, hardware } = await start();
  const machine = 'rf-1';
  const info = hardware.validate(machine, { redfish_address: url, redfish_username: 'admin', redfish_password: PASSWORD, redfish_verify_ca: caFile });
  return {
    driver: hardware.create(info, { machine, state: memoryState() }),
    machine,
    softOff: true,
    observedBoots: () => handler.boots.map((b) => FROM_REDFISH[b.target] ?? 'default'),
    makeStuck: () => {
      handler.stuck = true;
    },
    close: async () => {
      await hardware.close();
      await emulator.close();
    },
  };
});

test('redfish: a wrong password is an authentication error naming the machine, without the password; no CA is a TLS error', async (t) => {
  const { emulator, url, hardware } = await start();
  t.after(async () => {
    await hardware.close();
    await emulator.close();
  });
  const wrong = hardware.create(
    hardware.validate('srv-7', { redfish_address: url, redfish_username: 'admin', redfish_password: 'Wrong-Pass-9', redfish_verify_ca: 'false' }),
    {
      machine: 'srv-7',
      state: memoryState(),
    },
  );
  await assert.rejects(wrong.power.getPowerState(), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'CONTROLLER_AUTH_FAILED');
    assert.match(e.message, /machine 'srv-7': Redfish authentication failed: .*HTTP 401.*check the user name and password/);
    assert.doesNotMatch(e.message, /Wrong-Pass-9/);
    return true;
  });
  const untrusted = hardware.create(hardware.validate('srv-8', { redfish_address: url, redfish_username: 'admin', redfish_password: PASSWORD }), {
    machine: 'srv-8',
    state: memoryState(),
  });
  await assert.rejects(untrusted.power.getPowerState(), /machine 'srv-8': .*the TLS certificate did not verify.*set redfish_verify_ca/);
});

test('redfish: validate names every problem, assumes https://, and never contacts the BMC', () => {
  const hardware = new RedfishHardware();
  assert.throws(
    () => hardware.validate('srv-1', { redfish_username: 'u', redfish_verify_ca: 'maybe', redfish_port: 1 }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'DRIVER_INFO_INVALID');
      assert.match(e.message, /unknown field redfish_port/);
      assert.match(e.message, /redfish_address is missing/);
      assert.match(e.message, /redfish_password is missing/);
      assert.match(e.message, /redfish_verify_ca must be true, false or the absolute path of a CA bundle, not 'maybe'/);
      return true;
    },
  );
  const info = hardware.validate('srv-1', {
    redfish_address: '10.0.0.5:8443',
    redfish_username: 'u',
    redfish_password: 'p',
    redfish_system_id: 'System.Embedded.1',
  });
  assert.deepEqual([info.endpoint.url, info.endpoint.verify, info.systemId], ['https://10.0.0.5:8443', true, 'System.Embedded.1']);
});

test('redfish: with redfish_boot=uefi-http a network boot is the UefiHttp override in UEFI mode, read back as pxe; other devices as before', async (t) => {
  const { handler, emulator, url, caFile, hardware } = await start();
  t.after(async () => {
    await hardware.close();
    await emulator.close();
  });
  const machine = 'rf-http';
  const base = { redfish_address: url, redfish_username: 'admin', redfish_password: PASSWORD, redfish_verify_ca: caFile };
  const driver = hardware.create(hardware.validate(machine, { ...base, redfish_boot: 'uefi-http' }), { machine, state: memoryState() });
  await driver.management.setBootDevice('pxe');
  assert.deepEqual(handler.boot, { target: 'UefiHttp', enabled: 'Once', mode: 'UEFI' });
  assert.deepEqual(await driver.management.getBootDevice(), { device: 'pxe', persistent: false, uefi: true });
  await driver.power.setPowerState('on');
  assert.deepEqual(handler.boots, [{ target: 'UefiHttp', mode: 'UEFI' }], 'the machine booted by UEFI HTTP boot');
  await driver.management.setBootDevice('disk', { persistent: true });
  assert.deepEqual(handler.boot, { target: 'Hdd', enabled: 'Continuous', mode: 'Legacy' });
  const plain = hardware.create(hardware.validate(machine, base), { machine, state: memoryState() });
  await plain.management.setBootDevice('pxe');
  assert.deepEqual(handler.boot, { target: 'Pxe', enabled: 'Once', mode: 'Legacy' });
  assert.throws(() => hardware.validate(machine, { ...base, redfish_boot: 'floppy' }), /redfish_boot must be pxe, uefi-http or virtual-media, not 'floppy'/);
});
