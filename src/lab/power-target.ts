// The narrow interface the emulated controllers (IPMI BMC, AMT) drive: a machine's power, its
// boot device and its serial console. A lab VM implements it; so can anything else a
// controller should stand in front of.
import type { Duplex } from 'node:stream';
import type { LabBootDevice } from './definition.ts';

export type LabPowerState = 'on' | 'off';

/**
 * on: boot (no-op when on). off: pull the plug. reset: hard reset (the pending boot device
 * applies). soft-off: press the ACPI power button; the guest decides. cycle: off, then on.
 */
export type LabPowerAction = 'on' | 'off' | 'reset' | 'soft-off' | 'cycle';

export interface LabBootDeviceSetting {
  readonly device: LabBootDevice;
  /** false: a one-time device, used by the next boot only. */
  readonly persistent: boolean;
  readonly efi: boolean;
}

export interface PowerTarget {
  readonly name: string;
  getPowerState(): Promise<LabPowerState>;
  /** Rejects with code LAB_POWERED_OFF for reset while off. */
  setPowerState(action: LabPowerAction): Promise<void>;
  /** The device the next boot uses: the one-time device if one is pending, else the persistent one. */
  getBootDevice(): Promise<LabBootDeviceSetting>;
  /** `default` clears a pending one-time device (IPMI "no override"). */
  setBootDevice(device: LabBootDevice | 'default', options: { persistent: boolean; efi?: boolean }): Promise<void>;
  /** A stream onto the serial console: what the machine prints, and keystrokes to it. */
  openConsole(): Duplex;
}
