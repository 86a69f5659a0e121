// The ipmi driver against the contract, over UDP on loopback to anvil's emulated BMC (the
// server behind `bin/anvil bmc fake`), plus what only IPMI has: the 60 s boot-flag timeout
// disabled, a forgotten persistent device re-asserted before power-on, and typed failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BmcServer } from '../../src/protocols/ipmi/server/server.ts';
import { MemoryBmcHandler } from '../../src/protocols/ipmi/server/memory-handler.ts';
import type { PowerAction } from '../../src/protocols/ipmi/server/handler.ts';
import { decodeBootFlags } from '../../src/protocols/ipmi/commands/chassis.ts';
import { IpmiHardware } from '../../src/drivers/ipmi.ts';
import type { BootDevice } from '../../src/drivers/types.ts';
import { driverContract, memoryState } from './contract.ts';

/** A BMC that records the boot device of each boot and can be made to ignore power actions. */
class ObservedHandler extends MemoryBmcHandler {
  readonly boots: (BootDevice | 'default')[] = [];
  stuck = false;
  override setPower(action: PowerAction): void {
    if (this.stuck) return;
    if ((action === 'on' && this.power === 'off') || action === 'cycle' || action === 'reset') {
      const flags = decodeBootFlags(this.bootFlags);
      this.boots.push(flags.valid ? (flags.device as BootDevice) : 'default');
    }
    super.setPower(action);
  }
}

const FAST = { timeoutMs: 200, retries: 2, backoff: 0, jitter: 0 };

async function bmcFixture(password = 'secret-pw') {
  const server = new BmcServer();
  const handler = new ObservedHandler({ user: 'admin', password });
  const hosted = await server.add({ port: 0, handler });
  const hardware = new IpmiHardware({ policy: FAST, pollMs: 20 });
  const state = memoryState();
  return { server, handler, hosted, hardware, state };
}

driverContract('ipmi', async () => {
  const { server, handler, hosted, hardware, state } = await bmcFixture();
  const machine = 'ipmi-1';
  const info = hardware.validate(machine, { ipmi_address: '127.0.0.1', ipmi_port: hosted.port, ipmi_username: 'admin', ipmi_password: 'secret-pw' });
  return {
    driver: hardware.create(info, { machine, state }),
    machine,
    softOff: true,
    observedBoots: () => handler.boots,
    makeStuck: () => {
      handler.stuck = true;
    },
    close: async () => {
      await hardware.close();
      await server.close();
    },
  };
});

test('ipmi: setting a boot device disables the BMC 60 s flag timeout and keeps UEFI and persistence', async (t) => {
  const { server, hosted, hardware, state } = await bmcFixture();
  t.after(async () => {
    await hardware.close();
    await server.close();
  });
  const driver = hardware.create(
    hardware.validate('m', { ipmi_address: '127.0.0.1', ipmi_port: String(hosted.port), ipmi_username: 'admin', ipmi_password: 'secret-pw' }),
    { machine: 'm', state },
  );
  await driver.management.setBootDevice('cdrom', { persistent: true, uefi: true });
  const param3 = await hardware.client.bmc({ host: '127.0.0.1', port: hosted.port, user: 'admin', password: 'secret-pw' }).getBootParam(3);
  assert.equal(param3.data[0], 0x08, 'boot flag valid bit clearing: do not clear on the 60 s timeout');
  const flags = decodeBootFlags(hosted.bmc.handler.getBootFlags() as Buffer);
  assert.deepEqual([flags.valid, flags.persistent, flags.efi, flags.device], [true, true, true, 'cdrom']);
});

test('ipmi: a persistent device the BMC forgot is re-asserted before power-on', async (t) => {
  const { server, handler, hosted, hardware, state } = await bmcFixture();
  t.after(async () => {
    await hardware.close();
    await server.close();
  });
  const driver = hardware.create(
    hardware.validate('m', { ipmi_address: '127.0.0.1', ipmi_port: hosted.port, ipmi_username: 'admin', ipmi_password: 'secret-pw' }),
    { machine: 'm', state },
  );
  await driver.management.setBootDevice('pxe', { persistent: true });
  handler.bootFlags = Buffer.alloc(5); // a BMC reset or firmware update lost it
  await driver.power.setPowerState('on', { timeoutMs: 5000 });
  assert.deepEqual(handler.boots, ['pxe']);
  assert.deepEqual(await driver.management.getBootDevice(), { device: 'pxe', persistent: true, uefi: false });
});

test('ipmi: wrong password is an authentication error naming the machine; a silent BMC is unreachable', async (t) => {
  const { server, hosted, hardware, state } = await bmcFixture();
  t.after(async () => {
    await hardware.close();
    await server.close();
  });
  const wrong = hardware.create(
    hardware.validate('m1', { ipmi_address: '127.0.0.1', ipmi_port: hosted.port, ipmi_username: 'admin', ipmi_password: 'not-it' }),
    { machine: 'm1', state },
  );
  await assert.rejects(wrong.power.getPowerState(), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'CONTROLLER_AUTH_FAILED');
    assert.match(e.message, /machine 'm1'.*authentication/);
    assert.doesNotMatch(e.message, /not-it/);
    return true;
  });
  await server.close();
  const gone = hardware.create(
    hardware.validate('m2', { ipmi_address: '127.0.0.1', ipmi_port: hosted.port, ipmi_username: 'admin', ipmi_password: 'secret-pw' }),
    { machine: 'm2', state },
  );
  await assert.rejects(gone.power.getPowerState(), { code: 'CONTROLLER_UNREACHABLE' });
});

test('ipmi: validate names every missing or invalid field and contacts nothing', () => {
  const hardware = new IpmiHardware();
  assert.throws(
    () => hardware.validate('m', { ipmi_port: 'x', ipmi_privilege: 'ROOT', ipmi_password: 'p'.repeat(21), ipmi_colour: 'red' }),
    (e: Error & { code?: string; problems?: string[] }) => {
      assert.equal(e.code, 'DRIVER_INFO_INVALID');
      for (const field of ['ipmi_address is missing', 'ipmi_port', 'ipmi_privilege', 'ipmi_password must be at most 20 bytes', 'unknown field ipmi_colour'])
        assert.match(e.message, new RegExp(field));
      assert.doesNotMatch(e.message, /ppppp/);
      return true;
    },
  );
  const info = hardware.validate('m', { ipmi_address: 'bmc1' });
  assert.equal(info.target.port, 623);
  assert.equal(info.target.privilege, 4);
});

test('ipmi: the console is SOL in a session of its own, both ways; closing the driver ends it', { timeout: 300_000 }, async (t) => {
  const { server, hosted, hardware, state } = await bmcFixture();
  t.after(() => server.close());
  t.after(() => hardware.close());
  const info = hardware.validate('sol1', { ipmi_address: '127.0.0.1', ipmi_port: hosted.port, ipmi_username: 'admin', ipmi_password: 'secret-pw' });
  const driver = hardware.create(info, { machine: 'sol1', state });
  assert.ok(driver.console, 'the ipmi driver offers a console');
  await driver.power.getPowerState();
  const stream = await driver.console.open();
  assert.equal(server.stats().activeSessions, 2, 'SOL did not reuse the shared session of power calls');
  let shown = '';
  const echoed = new Promise<void>((resolve) =>
    stream.on('data', (d: Buffer) => (shown += d.toString()).includes('anvil-console[ANVIL0001]: hi') && resolve()),
  );
  stream.write('hi\r');
  await echoed;
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  await hardware.close();
  await closed;
  assert.equal(server.stats().activeSessions, 0, 'SOL deactivated and both sessions closed');
});
