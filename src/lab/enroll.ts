// What anvil needs to manage a lab VM as a machine: its driver and driver_info, pointing at
// the VM's emulated controller. The seam for `anvil lab vm create --enroll`: the caller hands
// these to the machines service; nothing here touches the store.
import type { LabVmDefinition } from './definition.ts';

export interface LabEnrollment {
  readonly name: string;
  readonly macs: readonly string[];
  /** The anvil hardware type: ipmi or amt. */
  readonly driver: 'ipmi' | 'amt';
  /** The driver's driver_info fields (src/drivers/ipmi.ts, src/drivers/amt.ts); the password is a secret there. */
  readonly driverInfo: Readonly<Record<string, string | number>>;
}

/** One enrollment per controller in front of the VM (a `both` VM can be managed either way); none without a BMC. */
export function enrollmentsFor(def: LabVmDefinition): LabEnrollment[] {
  const bmc = def.bmc;
  if (!bmc) return [];
  const base = { name: def.name, macs: [def.mac] };
  const out: LabEnrollment[] = [];
  if (bmc.kind === 'ipmi' || bmc.kind === 'both') {
    out.push({ ...base, driver: 'ipmi', driverInfo: { ipmi_address: bmc.address, ipmi_port: bmc.ipmiPort, ipmi_username: bmc.user, ipmi_password: bmc.password } });
  }
  if (bmc.kind === 'amt' || bmc.kind === 'both') {
    out.push({ ...base, driver: 'amt', driverInfo: { amt_address: bmc.address, amt_port: bmc.amtPort, amt_username: bmc.user, amt_password: bmc.password, amt_protocol: 'http' } });
  }
  return out;
}
