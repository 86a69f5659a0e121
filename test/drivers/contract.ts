// The one contract every power/management driver meets (as hono runs one suite against every
// router): power on/off/reboot/status, soft power off where offered, boot device set/get with
// persistent and UEFI, a one-time device used once and a persistent one at every boot, and a
// power action on a machine that never changes state timing out with the machine's name.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BootDevice, Driver, DriverState } from '../../src/drivers/types.ts';

export interface ContractFixture {
  readonly driver: Driver;
  /** The machine's name, as the driver's messages must show it. */
  readonly machine: string;
  /** Whether the controller offers soft power off. */
  readonly softOff: boolean;
  /** Every boot of the emulated machine so far, with the device it used ('default' = its own order). */
  observedBoots(): readonly (BootDevice | 'default')[];
  /** From now on the machine accepts power actions but never carries them out. */
  makeStuck(): void;
  close(): Promise<void>;
}

/** driver_internal_info in memory, as MachineControl keeps it in the database. */
export function memoryState(): DriverState {
  let values: Record<string, unknown> = {};
  return {
    get: async () => values,
    set: async (patch) => {
      values = { ...values };
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) delete values[k];
        else values[k] = v;
      }
    },
  };
}

export function driverContract(name: string, setup: () => Promise<ContractFixture>): void {
  const withFixture = (fn: (f: ContractFixture) => Promise<void>) => async () => {
    const f = await setup();
    try {
      await fn(f);
    } finally {
      await f.close();
    }
  };
  const timeoutMs = 10_000;

  describe(`${name} driver contract`, () => {
    it(
      'reads the power state, powers on and off, and waits for each',
      withFixture(async ({ driver }) => {
        assert.equal(await driver.power.getPowerState(), 'off');
        assert.equal(await driver.power.setPowerState('on', { timeoutMs }), 'on');
        assert.equal(await driver.power.getPowerState(), 'on');
        assert.equal(await driver.power.setPowerState('on', { timeoutMs }), 'on', 'powering on a machine that is on is harmless');
        assert.equal(await driver.power.setPowerState('off', { timeoutMs }), 'off');
        assert.equal(await driver.power.getPowerState(), 'off');
      }),
    );

    it(
      'reboots a machine that is on, and powers on one that is off',
      withFixture(async (f) => {
        assert.equal(await f.driver.power.reboot({ timeoutMs }), 'on');
        assert.equal(f.observedBoots().length, 1);
        assert.equal(await f.driver.power.reboot({ timeoutMs }), 'on');
        assert.equal(f.observedBoots().length, 2, 'a reboot boots the machine again');
        assert.equal(await f.driver.power.getPowerState(), 'on');
      }),
    );

    it(
      'soft power off, where the controller offers it',
      withFixture(async (f) => {
        await f.driver.power.setPowerState('on', { timeoutMs });
        if (!f.softOff) {
          await assert.rejects(f.driver.power.setPowerState('soft-off', { timeoutMs }), (e: Error & { code?: string }) => {
            assert.match(e.message, new RegExp(f.machine));
            return true;
          });
          return;
        }
        assert.equal(await f.driver.power.setPowerState('soft-off', { timeoutMs }), 'off');
      }),
    );

    it(
      'sets and reads back every supported boot device, once and persistent, BIOS and UEFI',
      withFixture(async ({ driver }) => {
        const devices = driver.management.getSupportedBootDevices();
        assert.ok(devices.includes('pxe') && devices.includes('disk'), `pxe and disk are supported: ${devices.join(',')}`);
        for (const device of devices) {
          await driver.management.setBootDevice(device);
          assert.deepEqual(await driver.management.getBootDevice(), { device, persistent: false, uefi: false });
        }
        await driver.management.setBootDevice('pxe', { persistent: true, uefi: true });
        assert.deepEqual(await driver.management.getBootDevice(), { device: 'pxe', persistent: true, uefi: true });
      }),
    );

    it(
      'uses a one-time boot device for the next boot only',
      withFixture(async (f) => {
        await f.driver.management.setBootDevice('pxe');
        await f.driver.power.setPowerState('on', { timeoutMs });
        await f.driver.power.setPowerState('off', { timeoutMs });
        await f.driver.power.setPowerState('on', { timeoutMs });
        assert.deepEqual(f.observedBoots(), ['pxe', 'default']);
      }),
    );

    it(
      'uses a persistent boot device at every boot',
      withFixture(async (f) => {
        await f.driver.management.setBootDevice('pxe', { persistent: true });
        await f.driver.power.setPowerState('on', { timeoutMs });
        await f.driver.power.reboot({ timeoutMs });
        await f.driver.power.setPowerState('off', { timeoutMs });
        await f.driver.power.setPowerState('on', { timeoutMs });
        assert.deepEqual(f.observedBoots(), ['pxe', 'pxe', 'pxe']);
        assert.deepEqual({ ...(await f.driver.management.getBootDevice()), uefi: undefined }, { device: 'pxe', persistent: true, uefi: undefined });
      }),
    );

    it(
      'times out naming the machine when it never reaches the state',
      withFixture(async (f) => {
        f.makeStuck();
        await assert.rejects(f.driver.power.setPowerState('on', { timeoutMs: 400 }), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'POWER_TIMEOUT');
          assert.match(e.message, new RegExp(`machine '${f.machine}' did not reach power on within 0.4 s \\(still off\\)`));
          return true;
        });
      }),
    );
  });
}
