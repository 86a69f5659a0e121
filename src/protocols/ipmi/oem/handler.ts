// The OEM extension point (pyghmi's oem/generic.OEMHandler): what a vendor may do differently
// from the standard, as hooks with a standard-IPMI default. A vendor handler extends
// GenericOemHandler and overrides only what its BMCs do their own way.
import { chassisIdentify } from '../commands/chassis.ts';
import type { Bmc } from '../client/bmc.ts';
import type { DeviceId } from '../commands/device.ts';

export interface FirmwareComponent {
  /** 'BMC', 'BIOS', 'UEFI', 'PSU1', ... as the vendor names it. */
  readonly name: string;
  readonly version: string;
}

export class GenericOemHandler {
  /** Short name, for logs and `anvil ipmi mc info --json`. */
  readonly name: string = 'generic';
  readonly deviceId: DeviceId;

  constructor(deviceId: DeviceId) {
    this.deviceId = deviceId;
  }

  /** Firmware versions: the standard only knows the BMC's own (Get Device ID, IPMI v2.0 §20.1). */
  async firmware(_bmc: Bmc): Promise<FirmwareComponent[]> {
    const d = this.deviceId;
    return [{ name: 'BMC', version: `${d.firmwareMajor}.${String(d.firmwareMinor).padStart(2, '0')}` }];
  }

  /** Identify LED: Chassis Identify (§28.5), "force on" or off. */
  async setIdentify(bmc: Bmc, on: boolean): Promise<void> {
    await bmc.send(chassisIdentify(on ? 'force' : 0));
  }

  /** Vendor facts worth showing next to `mc info` (empty for the standard). */
  async details(_bmc: Bmc): Promise<Record<string, string>> {
    return {};
  }
}
