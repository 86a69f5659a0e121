// The amt driver against the contract, over HTTP on loopback to anvil's AMT emulator (the
// server behind `bin/anvil bmc amt`) on both wire protocols, plus: a wrong password is a clear
// authentication error, validate names a missing amt_address, and HTTPS with a self-signed
// certificate works only when driver_info allows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmtEmulator, MemoryAmtHandler, ALL_POWER_ACTIONS } from '../../src/protocols/amt/index.ts';
import type { AmtBootDevice, AmtPowerAction, PowerChangeResult } from '../../src/protocols/amt/index.ts';
import { makeSelfSignedCertificate } from '../../src/protocols/amt/emulator/self-signed.ts';
import { AmtHardware } from '../../src/drivers/amt.ts';
import type { BootDevice } from '../../src/drivers/types.ts';
import { havePeers } from '../helpers/peers.ts';
import { driverContract, memoryState } from './contract.ts';

const PASSWORD = 'Amt-Secret-1!';
const FROM_AMT: Readonly<Record<string, BootDevice | 'default'>> = { pxe: 'pxe', hd: 'disk', cd: 'cdrom', bios: 'bios', hdsafe: 'safe', default: 'default' };

/** An AMT machine that can be made to accept power actions without carrying them out. */
class StuckableHandler extends MemoryAmtHandler {
  stuck = false;
  override async setPowerState(action: AmtPowerAction, device: AmtBootDevice | undefined): Promise<PowerChangeResult> {
    return this.stuck ? 'ok' : super.setPowerState(action, device);
  }
}

async function start(options: { protocols?: ('wsman' | 'soap')[]; tls?: { key: string; cert: string } } = {}) {
  const handler = new StuckableHandler({ actions: ALL_POWER_ACTIONS });
  const emulator = new AmtEmulator({ password: PASSWORD, port: 0, handler, ...options });
  const { port } = await emulator.listen();
  const hardware = new AmtHardware({ transport: { connectAttempts: 1, retryDelayMs: 10, requestTimeoutMs: 5000 }, pollMs: 20 });
  return { handler, emulator, port, hardware };
}

for (const protocol of ['wsman', 'soap'] as const) {
  driverContract(`amt (${protocol})`, async () => {
    const { handler, emulator, port, hardware } = await start({ protocols: [protocol] });
    const machine = `amt-${protocol}`;
    const info = hardware.validate(machine, { amt_address: '127.0.0.1', amt_port: port, amt_password: PASSWORD });
    return {
      driver: hardware.create(info, { machine, state: memoryState() }),
      machine,
      // Graceful power states are WS-Management only (AMT 9+).
      softOff: protocol === 'wsman',
      observedBoots: () => handler.boots.map((b) => FROM_AMT[b.device] ?? 'default'),
      makeStuck: () => {
        handler.stuck = true;
      },
      close: async () => {
        await hardware.close();
        await emulator.close();
      },
    };
  });
}

for (const protocol of ['wsman', 'soap'] as const) {
  test(`amt (${protocol}): bios and safe boot the machine into BIOS setup and hard-drive safe mode, once`, async (t) => {
    const { handler, emulator, port, hardware } = await start({ protocols: [protocol] });
    t.after(async () => {
      await hardware.close();
      await emulator.close();
    });
    const driver = hardware.create(hardware.validate('desk-2', { amt_address: '127.0.0.1', amt_port: port, amt_password: PASSWORD }), {
      machine: 'desk-2',
      state: memoryState(),
    });
    assert.ok(driver.management.getSupportedBootDevices().includes('bios') && driver.management.getSupportedBootDevices().includes('safe'));
    await driver.management.setBootDevice('bios');
    await driver.power.setPowerState('on', { timeoutMs: 5000 });
    await driver.management.setBootDevice('safe');
    await driver.power.reboot({ timeoutMs: 5000 });
    await driver.power.reboot({ timeoutMs: 5000 });
    assert.deepEqual(
      handler.boots.map((b) => FROM_AMT[b.device]),
      ['bios', 'safe', 'default'],
    );
  });
}

test('amt: a wrong password is an authentication error naming the machine, without the password', async (t) => {
  const { emulator, port, hardware } = await start();
  t.after(async () => {
    await hardware.close();
    await emulator.close();
  });
  const driver = hardware.create(hardware.validate('desk-7', { amt_address: '127.0.0.1', amt_port: port, amt_password: 'Wrong-Pass-9' }), {
    machine: 'desk-7',
    state: memoryState(),
  });
  await assert.rejects(driver.power.getPowerState(), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'CONTROLLER_AUTH_FAILED');
    assert.match(e.message, /machine 'desk-7': AMT authentication failed: .*rejected the credentials of user 'admin'/);
    assert.doesNotMatch(e.message, /Wrong-Pass-9/);
    return true;
  });
});

test('amt: validate names amt_address when it is missing, and every other problem with it', () => {
  const hardware = new AmtHardware();
  assert.throws(
    () => hardware.validate('desk-1', { amt_password: 'x', amt_protocol: 'ftp' }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'DRIVER_INFO_INVALID');
      assert.match(e.message, /machine 'desk-1'.*amt_address is missing/);
      assert.match(e.message, /amt_protocol must be one of http, https, not 'ftp'/);
      return true;
    },
  );
  assert.throws(() => hardware.validate('desk-1', { amt_address: '10.0.0.5' }), /amt_password is missing/);
  const info = hardware.validate('desk-1', { amt_address: '10.0.0.5', amt_password: 'x', amt_protocol: 'https' });
  assert.deepEqual([info.endpoint.port, info.endpoint.user, info.endpoint.allowSelfSigned], [16993, 'admin', false]);
});

test('amt: HTTPS with a self-signed certificate needs amt_allow_self_signed', async (t) => {
  if (!havePeers(t, 'openssl')) return;
  const tls = await makeSelfSignedCertificate('amt-emulator');
  const { emulator, port, hardware, handler } = await start({ tls });
  t.after(async () => {
    await hardware.close();
    await emulator.close();
  });
  const base = { amt_address: '127.0.0.1', amt_port: port, amt_password: PASSWORD, amt_protocol: 'https' };
  const strict = hardware.create(hardware.validate('d', base), { machine: 'd', state: memoryState() });
  await assert.rejects(strict.power.getPowerState(), /amt_allow_self_signed=true/);
  const trusting = hardware.create(hardware.validate('d', { ...base, amt_allow_self_signed: 'true' }), { machine: 'd', state: memoryState() });
  assert.equal(await trusting.power.setPowerState('on', { timeoutMs: 5000 }), 'on');
  assert.equal(handler.power, 'on');
});
