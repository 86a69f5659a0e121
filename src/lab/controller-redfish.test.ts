// The lab's Redfish handler over a PowerTarget in memory: resets become the VM's power actions,
// a Once override is the VM's one-time boot device, Continuous its persistent one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { LabRedfishHandler } from './controller-redfish.ts';
import type { LabBootDeviceSetting, LabPowerAction, LabPowerState } from './power-target.ts';
import type { LabBootDevice } from './definition.ts';

class MemoryVm {
  readonly name = 'vm-1';
  power: LabPowerState = 'off';
  readonly actions: LabPowerAction[] = [];
  persistent: LabBootDeviceSetting = { device: 'disk', persistent: true, efi: false };
  once: LabBootDeviceSetting | undefined;
  async getPowerState() {
    return this.power;
  }
  async setPowerState(action: LabPowerAction) {
    this.actions.push(action);
    this.power = action === 'off' || action === 'soft-off' ? 'off' : 'on';
    if (action !== 'off' && action !== 'soft-off') this.once = undefined;
  }
  async getBootDevice() {
    return this.once ?? this.persistent;
  }
  async setBootDevice(device: LabBootDevice | 'default', options: { persistent: boolean; efi?: boolean }) {
    if (device === 'default') this.once = undefined;
    else if (options.persistent) this.persistent = { device, persistent: true, efi: options.efi === true };
    else this.once = { device, persistent: false, efi: options.efi === true };
  }
  openConsole() {
    return new PassThrough();
  }
}

test('resets power the VM; Once, Continuous and Disabled overrides map onto its boot devices', async () => {
  const vm = new MemoryVm();
  const h = new LabRedfishHandler(vm);
  assert.deepEqual(await h.getBoot(), { target: 'None', enabled: 'Disabled', mode: 'Legacy' });
  await h.setBoot({ target: 'Pxe', enabled: 'Once', mode: 'UEFI' });
  assert.deepEqual(await h.getBoot(), { target: 'Pxe', enabled: 'Once', mode: 'UEFI' });
  await h.reset('ForceRestart');
  assert.equal(await h.getPowerState(), 'On');
  assert.deepEqual(await h.getBoot(), { target: 'None', enabled: 'Disabled', mode: 'Legacy' }, 'the one-time device was used');
  await h.reset('ForceRestart');
  await h.reset('GracefulShutdown');
  await h.reset('ForceOff');
  await h.reset('PowerCycle');
  assert.deepEqual(vm.actions, ['on', 'reset', 'soft-off', 'on']);
  await h.setBoot({ target: 'Cd', enabled: 'Continuous', mode: 'Legacy' });
  assert.deepEqual(await h.getBoot(), { target: 'Cd', enabled: 'Continuous', mode: 'Legacy' });
  await assert.rejects(h.setBoot({ target: 'UefiHttp', enabled: 'Once', mode: 'UEFI' }), /lab VM vm-1 cannot boot from UefiHttp/);
  await assert.rejects(h.insertMedia(), /cannot take virtual media yet/);
});
