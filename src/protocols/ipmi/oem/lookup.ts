// Chooses the OEM handler for a BMC from the IANA enterprise number in its Get Device ID
// (pyghmi's oem/lookup.py), falling back to the standard-only GenericOemHandler.
import type { Bmc } from '../client/bmc.ts';
import type { DeviceId } from '../commands/device.ts';
import { GenericOemHandler } from './handler.ts';
import { SUPERMICRO_IANA, SupermicroOemHandler } from './supermicro.ts';
import { IBM_IANA, IPMI_FORUM_IANA, LENOVO_IANA, LenovoOemHandler } from './lenovo.ts';

export type OemHandlerFactory = (deviceId: DeviceId) => GenericOemHandler;

const lenovo: OemHandlerFactory = (id) => new LenovoOemHandler(id);
const factories = new Map<number, OemHandlerFactory>([
  [SUPERMICRO_IANA, (id) => new SupermicroOemHandler(id)],
  [LENOVO_IANA, lenovo],
  [IBM_IANA, lenovo],
  [IPMI_FORUM_IANA, lenovo],
]);

/** Adds (or replaces) the handler for an IANA enterprise number. */
export function registerOemHandler(iana: number, factory: OemHandlerFactory): void {
  factories.set(iana, factory);
}

export function oemHandlerForDeviceId(deviceId: DeviceId): GenericOemHandler {
  return (factories.get(deviceId.manufacturerId) ?? ((id: DeviceId) => new GenericOemHandler(id)))(deviceId);
}

/** The handler for this BMC; Get Device ID is asked once per session and cached there. */
export async function oemHandler(bmc: Bmc): Promise<GenericOemHandler> {
  return oemHandlerForDeviceId(await bmc.deviceId());
}
