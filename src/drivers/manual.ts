// The manual hardware type: a machine with no management controller. It always boots from
// the network and anvil only decides what it gets; power is whatever the person next to it
// does, so anvil reports 'unknown' and refuses actions that need a controller.
import { InfoReader } from './driver-info.ts';
import { NoControllerError } from './errors.ts';
import type { Driver, DriverContext, HardwareType } from './types.ts';

export class ManualHardware implements HardwareType<Record<string, never>> {
  readonly name = 'manual';
  readonly description = 'no management controller: the machine boots from the network and reboots itself';
  readonly fields = {};

  validate(machine: string, driverInfo: Readonly<Record<string, unknown>>): Record<string, never> {
    new InfoReader(machine, this.name, driverInfo, this.fields).done();
    return {};
  }

  create(_info: Record<string, never>, context: DriverContext): Driver {
    const refuse = (what: string) => async (): Promise<never> => {
      throw new NoControllerError(context.machine, what);
    };
    return {
      power: {
        getPowerState: async () => 'unknown',
        setPowerState: async (target) => refuse(`power it ${target}`)(),
        reboot: refuse('reboot it'),
      },
      management: {
        getSupportedBootDevices: () => [],
        // Its firmware is set to boot from the network, always; anvil cannot change that.
        getBootDevice: async () => ({ device: 'pxe', persistent: true }),
        setBootDevice: async (device) => refuse(`set its boot device to ${device}`)(),
      },
    };
  }
}
