// What anvil needs to manage a lab VM as a machine: its driver and driver_info, pointing at
// the VM's emulated controller. The seam for `anvil lab vm create --enroll`: the caller hands
// these to the machines service; nothing here touches the store.
import { labInvalid } from './definition.ts';
import type { LabVmDefinition } from './definition.ts';

export type LabDriver = 'ipmi' | 'amt';
export const LAB_DRIVERS: readonly LabDriver[] = ['ipmi', 'amt'];

export interface LabEnrollment {
  readonly name: string;
  readonly macs: readonly string[];
  /** The anvil hardware type: ipmi or amt. */
  readonly driver: LabDriver;
  /** The driver's driver_info fields (src/drivers/ipmi.ts, src/drivers/amt.ts); the password is a secret there. */
  readonly driverInfo: Readonly<Record<string, string | number>>;
  /** address:port of the controller, for messages. */
  readonly endpoint: string;
}

/** One enrollment per controller in front of the VM (a `both` VM can be managed either way); none without a BMC. */
export function enrollmentsFor(def: LabVmDefinition): LabEnrollment[] {
  const bmc = def.bmc;
  if (!bmc) return [];
  const base = { name: def.name, macs: [def.mac] };
  const out: LabEnrollment[] = [];
  if (bmc.kind === 'ipmi' || bmc.kind === 'both') {
    out.push({
      ...base,
      driver: 'ipmi',
      endpoint: `${bmc.address}:${bmc.ipmiPort}`,
      driverInfo: { ipmi_address: bmc.address, ipmi_port: bmc.ipmiPort, ipmi_username: bmc.user, ipmi_password: bmc.password },
    });
  }
  if (bmc.kind === 'amt' || bmc.kind === 'both') {
    out.push({
      ...base,
      driver: 'amt',
      endpoint: `${bmc.address}:${bmc.amtPort}`,
      driverInfo: { amt_address: bmc.address, amt_port: bmc.amtPort, amt_username: bmc.user, amt_password: bmc.password, amt_protocol: 'http' },
    });
  }
  return out;
}

/**
 * The enrollment to use: the one of the driver asked for, else the first (ipmi for a `both`
 * VM). Refused when the VM has no such controller, or when its port is 0: "any free port"
 * is chosen afresh by every `lab up`, so anvil could not know where to reach it.
 */
export function pickEnrollment(def: LabVmDefinition, driver?: LabDriver): LabEnrollment {
  const all = enrollmentsFor(def);
  if (all.length === 0) throw labInvalid(`lab VM ${def.name} has no controller to enroll it with; create it with --bmc ipmi, amt or both`);
  const chosen = driver === undefined ? all[0]! : all.find((e) => e.driver === driver);
  if (!chosen) throw labInvalid(`lab VM ${def.name} has no ${driver} controller (its controller is ${def.bmc?.kind}); use --bmc both to have both`);
  const port = chosen.driver === 'ipmi' ? def.bmc!.ipmiPort : def.bmc!.amtPort;
  if (port === 0) {
    throw labInvalid(
      `lab VM ${def.name}: its ${chosen.driver === 'ipmi' ? 'IPMI BMC' : 'AMT'} port is 0 (any free port, chosen anew by each lab up), so anvil could not reach it; give a fixed ${chosen.driver === 'ipmi' ? '--bmc-port' : '--amt-port'}`,
    );
  }
  return chosen;
}
