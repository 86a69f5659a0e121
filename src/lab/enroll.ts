// What anvil needs to manage a lab VM as a machine: its driver and driver_info, pointing at
// the VM's emulated controller. The seam for `anvil lab vm create --enroll`: the caller hands
// these to the machines service; nothing here touches the store.
import { hasAmt, hasIpmi, hasRedfish, labInvalid } from './definition.ts';
import type { LabVmDefinition } from './definition.ts';

export type LabDriver = 'ipmi' | 'amt' | 'redfish';
export const LAB_DRIVERS: readonly LabDriver[] = ['ipmi', 'amt', 'redfish'];

export interface LabEnrollOptions {
  /** The CA bundle a Redfish controller's certificate is verified with (redfish-tls.ts's labRedfishCaFile). */
  readonly redfishCaFile?: string;
}

export interface LabEnrollment {
  readonly name: string;
  readonly macs: readonly string[];
  /** The anvil hardware type: ipmi, amt or redfish. */
  readonly driver: LabDriver;
  /** The driver's driver_info fields (src/drivers/ipmi.ts, src/drivers/amt.ts); the password is a secret there. */
  readonly driverInfo: Readonly<Record<string, string | number>>;
  /** address:port of the controller, for messages. */
  readonly endpoint: string;
}

/** One enrollment per controller in front of the VM (a `both` VM can be managed either way); none without a BMC. */
export function enrollmentsFor(def: LabVmDefinition, options: LabEnrollOptions = {}): LabEnrollment[] {
  const bmc = def.bmc;
  if (!bmc) return [];
  const base = { name: def.name, macs: [def.mac] };
  const out: LabEnrollment[] = [];
  if (hasIpmi(bmc.kind)) {
    out.push({
      ...base,
      driver: 'ipmi',
      endpoint: `${bmc.address}:${bmc.ipmiPort}`,
      driverInfo: { ipmi_address: bmc.address, ipmi_port: bmc.ipmiPort, ipmi_username: bmc.user, ipmi_password: bmc.password },
    });
  }
  if (hasAmt(bmc.kind)) {
    out.push({
      ...base,
      driver: 'amt',
      endpoint: `${bmc.address}:${bmc.amtPort}`,
      driverInfo: { amt_address: bmc.address, amt_port: bmc.amtPort, amt_username: bmc.user, amt_password: bmc.password, amt_protocol: 'http' },
    });
  }
  if (hasRedfish(bmc.kind)) {
    // An IPv6 literal goes in brackets in a URL.
    const host = bmc.address.includes(':') ? `[${bmc.address}]` : bmc.address;
    out.push({
      ...base,
      driver: 'redfish',
      endpoint: `https://${host}:${bmc.redfishPort}`,
      driverInfo: {
        redfish_address: `https://${host}:${bmc.redfishPort}`,
        redfish_username: bmc.user,
        redfish_password: bmc.password,
        redfish_verify_ca: options.redfishCaFile ?? 'true',
      },
    });
  }
  return out;
}

/** The controller's port a driver reaches, and the option that sets it. */
const PORT_OF = {
  ipmi: { what: 'IPMI BMC', option: '--bmc-port', port: (b: NonNullable<LabVmDefinition['bmc']>) => b.ipmiPort },
  amt: { what: 'AMT', option: '--amt-port', port: (b: NonNullable<LabVmDefinition['bmc']>) => b.amtPort },
  redfish: { what: 'Redfish BMC', option: '--redfish-port', port: (b: NonNullable<LabVmDefinition['bmc']>) => b.redfishPort },
} as const;

/**
 * The enrollment to use: the one of the driver asked for, else the first (ipmi for a `both`
 * VM). Refused when the VM has no such controller, or when its port is 0: "any free port"
 * is chosen afresh by every `lab up`, so anvil could not know where to reach it.
 */
export function pickEnrollment(def: LabVmDefinition, driver?: LabDriver, options: LabEnrollOptions = {}): LabEnrollment {
  const all = enrollmentsFor(def, options);
  if (all.length === 0) throw labInvalid(`lab VM ${def.name} has no controller to enroll it with; create it with --bmc ipmi, amt, both or redfish`);
  const chosen = driver === undefined ? all[0]! : all.find((e) => e.driver === driver);
  if (!chosen) {
    const hint = driver === 'redfish' ? 'create it with --bmc redfish' : 'use --bmc both to have both';
    throw labInvalid(`lab VM ${def.name} has no ${driver} controller (its controller is ${def.bmc?.kind}); ${hint}`);
  }
  const port = PORT_OF[chosen.driver];
  if (port.port(def.bmc!) === 0) {
    throw labInvalid(
      `lab VM ${def.name}: its ${port.what} port is 0 (any free port, chosen anew by each lab up), so anvil could not reach it; give a fixed ${port.option}`,
    );
  }
  return chosen;
}
