// The policy behind the emulated Redfish BMC: what the machine does when reset, which boot
// override it has, what is in its virtual CD. MemoryRedfishHandler is a machine in memory
// that records every boot with the device it used; the lab puts a QEMU VM behind the same
// interface (src/lab/controllers.ts).
import type { BootEnabled, BootMode, BootTarget, ResetType } from '../constants.ts';

export type EmulatedPowerState = 'On' | 'Off';

export interface BootOverrideState {
  readonly target: BootTarget;
  readonly enabled: BootEnabled;
  readonly mode: BootMode;
}

export interface MediaState {
  readonly image: string | undefined;
  readonly inserted: boolean;
}

/** ResetTypes the emulator offers: what a server's BMC offers for a machine with ACPI. */
export const EMULATED_RESET_TYPES: readonly ResetType[] = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'PowerCycle', 'Nmi'];
/** Boot targets the emulator offers (BootSourceOverrideTarget@Redfish.AllowableValues). */
export const EMULATED_BOOT_TARGETS: readonly BootTarget[] = ['None', 'Pxe', 'Hdd', 'Cd', 'UefiHttp', 'BiosSetup'];
export const EMULATED_BOOT_MODES: readonly BootMode[] = ['Legacy', 'UEFI'];

export interface RedfishHandler {
  getPowerState(): Promise<EmulatedPowerState>;
  /** Carries out one of EMULATED_RESET_TYPES; a restart of a machine that is off powers it on. */
  reset(type: ResetType): Promise<void>;
  getBoot(): Promise<BootOverrideState>;
  setBoot(boot: BootOverrideState): Promise<void>;
  getMedia(): Promise<MediaState>;
  /** Attaches the image at the URL as the virtual CD. */
  insertMedia(image: string): Promise<void>;
  ejectMedia(): Promise<void>;
}

/** One boot of the emulated machine: the override target it used, or 'default' for its own order. */
export interface BootRecord {
  readonly target: BootTarget | 'default';
  readonly mode: BootMode;
}

export class MemoryRedfishHandler implements RedfishHandler {
  power: EmulatedPowerState;
  boot: BootOverrideState = { target: 'None', enabled: 'Disabled', mode: 'UEFI' };
  media: MediaState = { image: undefined, inserted: false };
  readonly boots: BootRecord[] = [];
  nmis = 0;

  constructor(options: { power?: EmulatedPowerState } = {}) {
    this.power = options.power ?? 'Off';
  }

  async getPowerState(): Promise<EmulatedPowerState> {
    return this.power;
  }

  /** A power-on: boots the override when one is set, and clears a one-time one (DSP8010 BootSourceOverrideEnabled Once). */
  protected startMachine(): void {
    const { target, enabled, mode } = this.boot;
    const used = enabled !== 'Disabled' && target !== 'None';
    this.boots.push({ target: used ? target : 'default', mode });
    if (used && enabled === 'Once') this.boot = { ...this.boot, enabled: 'Disabled' };
    this.power = 'On';
  }

  async reset(type: ResetType): Promise<void> {
    switch (type) {
      case 'On':
      case 'ForceOn':
        if (this.power === 'Off') this.startMachine();
        return;
      case 'ForceOff':
      case 'GracefulShutdown':
        this.power = 'Off';
        return;
      case 'Nmi':
        if (this.power === 'On') this.nmis += 1;
        return;
      default:
        this.startMachine();
    }
  }

  async getBoot(): Promise<BootOverrideState> {
    return this.boot;
  }

  async setBoot(boot: BootOverrideState): Promise<void> {
    this.boot = boot;
  }

  async getMedia(): Promise<MediaState> {
    return this.media;
  }

  async insertMedia(image: string): Promise<void> {
    this.media = { image, inserted: true };
  }

  async ejectMedia(): Promise<void> {
    this.media = { image: undefined, inserted: false };
  }
}
