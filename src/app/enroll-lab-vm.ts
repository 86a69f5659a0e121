// Enrolls a lab VM as an anvil machine through the machines service: the VM's MAC, and the
// driver and driver_info of one of its controllers, the password sealed by the secrets layer
// (encrypted at rest, masked when shown). Enrolling again updates the machine in place, so a
// VM re-created under the same name (new MAC, new port) is picked up without a delete. A VM
// with an SSH port forward gets the properties address=127.0.0.1 and ssh_port (VCL reaches it so).
import type { Services } from './compose.ts';
import type { LabVmDefinition } from '../lab/definition.ts';
import { pickEnrollment } from '../lab/enroll.ts';
import type { LabDriver, LabEnrollment, LabEnrollOptions } from '../lab/enroll.ts';

export interface LabEnrollResult {
  readonly enrollment: LabEnrollment;
  /** False when a machine of that name already existed and was updated. */
  readonly created: boolean;
  /** The VM's MAC when it was new to the machine. */
  readonly addedMacs: readonly string[];
  /** MACs the machine had besides the VM's: kept, since anvil never drops a MAC on its own. */
  readonly otherMacs: readonly string[];
  /** The driver the machine had before, when it was updated. */
  readonly previousDriver: string | undefined;
  /** The SSH port forward set as the machine's properties. */
  readonly sshPort: number | undefined;
}

export async function enrollLabVm(
  services: Pick<Services, 'machines' | 'control' | 'properties'>,
  def: LabVmDefinition,
  options: LabEnrollOptions & { driver?: LabDriver; who?: string } = {},
): Promise<LabEnrollResult> {
  const enrollment = pickEnrollment(def, options.driver, options);
  const before = await services.machines.byName(enrollment.name);
  // A MAC that belongs to another machine is refused here (MAC_IN_USE), before anything changes.
  const { machine, created, added } = await services.machines.add(enrollment.name, enrollment.macs);
  // replace: driver_info left from another driver or an older VM must not linger.
  await services.control.configure(machine.name, { driver: enrollment.driver, driverInfo: enrollment.driverInfo, replace: true }, options.who ?? 'anvil lab');
  if (def.sshPort !== undefined) await services.properties.set(await services.machines.find(machine.name), { address: '127.0.0.1', ssh_port: def.sshPort });
  const macs = await services.machines.macsOf(machine.id);
  return {
    enrollment,
    created,
    addedMacs: added,
    otherMacs: macs.filter((m) => !enrollment.macs.includes(m)),
    previousDriver: before?.driver,
    sshPort: def.sshPort,
  };
}

/** One line for people: what was enrolled or updated, and where anvil reaches the controller. */
export function describeEnrollment(result: LabEnrollResult): string {
  const { enrollment: e } = result;
  const ssh = result.sshPort === undefined ? '' : `; SSH at 127.0.0.1:${result.sshPort} (properties address, ssh_port)`;
  if (result.created) return `enrolled machine ${e.name}: driver ${e.driver} at ${e.endpoint}${ssh}`;
  const parts = [
    `machine ${e.name} already existed: updated to driver ${e.driver} at ${e.endpoint}${result.previousDriver && result.previousDriver !== e.driver ? ` (was ${result.previousDriver})` : ''}`,
  ];
  if (result.addedMacs.length > 0) parts.push(`added MAC ${result.addedMacs.join(', ')}`);
  if (result.otherMacs.length > 0) parts.push(`kept its other MAC${result.otherMacs.length > 1 ? 's' : ''} ${result.otherMacs.join(', ')}`);
  return parts.join('; ') + ssh;
}
