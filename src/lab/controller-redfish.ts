// The Redfish BMC emulator's handler for a lab VM (what `--bmc redfish` will put in front of
// QEMU): ComputerSystem.Reset powers the VM, the Boot override sets its boot device (Once: the
// next boot only; Continuous: every boot; UEFI mode boots it through OVMF's EFI loader).
// Virtual media needs the VM's QMP to attach an ISO, which is not wired yet: it is refused.
import type { BootOverrideState, EmulatedPowerState, MediaState, RedfishHandler } from '../protocols/redfish/emulator/handler.ts';
import type { BootTarget, ResetType } from '../protocols/redfish/constants.ts';
import type { LabBootDevice } from './definition.ts';
import type { LabPowerTarget } from './controllers.ts';

const TO_LAB: Partial<Record<BootTarget, LabBootDevice>> = { Pxe: 'pxe', Hdd: 'disk', Cd: 'cdrom', BiosSetup: 'bios' };
const FROM_LAB: Record<LabBootDevice, BootTarget> = { pxe: 'Pxe', disk: 'Hdd', cdrom: 'Cd', bios: 'BiosSetup' };

export class LabRedfishHandler implements RedfishHandler {
  readonly target: LabPowerTarget;
  /** Whether the last override set here was Continuous: the VM's own persistent device is "no override". */
  #continuous = false;

  constructor(target: LabPowerTarget) {
    this.target = target;
  }

  async getPowerState(): Promise<EmulatedPowerState> {
    return (await this.target.getPowerState()) === 'on' ? 'On' : 'Off';
  }

  async reset(type: ResetType): Promise<void> {
    const on = (await this.target.getPowerState()) === 'on';
    switch (type) {
      case 'On':
      case 'ForceOn':
        if (!on) await this.target.setPowerState('on');
        return;
      case 'ForceOff':
        if (on) await this.target.setPowerState('off');
        return;
      case 'GracefulShutdown':
        if (on) await this.target.setPowerState('soft-off');
        return;
      case 'Nmi':
        if (on) await this.target.nmi?.();
        return;
      case 'PowerCycle':
        await this.target.setPowerState(on ? 'cycle' : 'on');
        return;
      default:
        // ForceRestart, GracefulRestart: a machine that is off is powered on, as BMCs do.
        await this.target.setPowerState(on ? 'reset' : 'on');
    }
  }

  async getBoot(): Promise<BootOverrideState> {
    const setting = await this.target.getBootDevice();
    const mode = setting.efi ? 'UEFI' : 'Legacy';
    if (!setting.persistent) return { target: FROM_LAB[setting.device], enabled: 'Once', mode };
    if (this.#continuous) return { target: FROM_LAB[setting.device], enabled: 'Continuous', mode };
    return { target: 'None', enabled: 'Disabled', mode };
  }

  async setBoot(boot: BootOverrideState): Promise<void> {
    const efi = boot.mode === 'UEFI';
    if (boot.enabled === 'Disabled' || boot.target === 'None') {
      this.#continuous = false;
      await this.target.setBootDevice('default', { persistent: false });
      return;
    }
    const device = TO_LAB[boot.target];
    if (device === undefined) throw new Error(`lab VM ${this.target.name} cannot boot from ${boot.target}; it boots Pxe, Hdd, Cd or BiosSetup`);
    this.#continuous = boot.enabled === 'Continuous';
    await this.target.setBootDevice(device, { persistent: this.#continuous, efi });
  }

  async getMedia(): Promise<MediaState> {
    return { image: undefined, inserted: false };
  }

  async insertMedia(): Promise<void> {
    throw new Error(`lab VM ${this.target.name} cannot take virtual media yet (attaching an ISO through QMP is not wired)`);
  }

  async ejectMedia(): Promise<void> {}
}
