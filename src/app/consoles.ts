// Where the browser console of a machine comes from: a lab VM of this data directory, enrolled
// as this machine, is reached through the console `lab up` shares (lab/console-share.ts). A
// machine is that VM when its driver and driver_info point at the VM's own controller, the way
// `lab vm create --enroll` wrote them: a same-named machine elsewhere is not the VM. Any other
// machine's console is its driver's (IPMI SOL), opened by the conductor, which alone unseals
// the controller's password.
import type { Duplex } from 'node:stream';
import { AnvilError } from '../common/errors.ts';
import type { MachineControl } from '../conductor/machine-control.ts';
import { connectConsoleShare } from '../lab/console-share.ts';
import { enrollmentsFor } from '../lab/enroll.ts';
import type { LabVmDefinition } from '../lab/definition.ts';
import { LabStore } from '../lab/store.ts';
import type { ConsoleSource } from '../web/console.ts';

/** The driver_info fields that say where a controller is (never the password). */
const WHERE_FIELDS = ['ipmi_address', 'ipmi_port', 'amt_address', 'amt_port', 'redfish_address'] as const;

function isEnrolledVm(def: LabVmDefinition, driver: string, driverInfo: Readonly<Record<string, unknown>>): boolean {
  return enrollmentsFor(def).some(
    (e) => e.driver === driver && WHERE_FIELDS.every((f) => e.driverInfo[f] === undefined || String(e.driverInfo[f]) === String(driverInfo[f])),
  );
}

export function machineConsoles(control: Pick<MachineControl, 'show' | 'openConsole'>, dataDir: string): ConsoleSource {
  const store = new LabStore(dataDir);
  return {
    async open(name: string, options: { readonly takeover: boolean; readonly who: string }): Promise<Duplex> {
      const machine = await control.show(name);
      let def: LabVmDefinition | undefined;
      try {
        def = await store.load(machine.name);
      } catch (error) {
        if (!(error instanceof AnvilError && error.code === 'LAB_NOT_FOUND')) throw error;
      }
      if (!def || !isEnrolledVm(def, machine.driver, machine.driverInfo)) {
        // NO_CONSOLE from the conductor when the machine's driver offers no console.
        return control.openConsole(machine.name, { takeover: options.takeover }, options.who);
      }
      const socket = await connectConsoleShare(store.consoleSocket(def.name));
      if (!socket) {
        throw new AnvilError('CONSOLE_NOT_SHARED', 'unavailable', `lab VM ${def.name}'s console is not shared: start 'anvil lab up' in this data directory`);
      }
      return socket;
    },
  };
}
