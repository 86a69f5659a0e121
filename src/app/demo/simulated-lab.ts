// The demo's simulated machines: HTTP clients in the demo's process (lab/demo/simulated-machine.ts)
// that boot through the same boot answer as real machines (iPXE's /boot/<mac>, so "Last boot" and
// the boot log fill in), behind the fake driver so they have a power state: anvil powers each on
// before a boot and off after it, and an operator can power them from the pages too.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Services } from '../compose.ts';
import { bootOnce } from '../../lab/demo/simulated-machine.ts';
import { DEMO_WHO, queueIfIdle } from './deployed-lab.ts';
import type { DemoMachine } from './seed.ts';

/** How long a simulated machine stays off between boots, and pauses between steps of one boot. */
export const DEMO_REBOOT_MS = 8_000;
export const DEMO_STEP_MS = 1_500;
/** Between the machines' first boots, so they do not all move at once. */
const STAGGER_MS = 700;

export interface SimulatedLabOptions {
  /** The demo's base URL. */
  readonly url: string;
  readonly machines: readonly DemoMachine[];
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

/** Gives each machine the fake driver and starts its life; resolves once they are configured, with their lives. */
export async function startSimulatedMachines(services: Services, options: SimulatedLabOptions): Promise<Promise<void>[]> {
  for (const m of options.machines) await services.control.configure(m.name, { driver: 'fake', driverInfo: {}, replace: true }, DEMO_WHO);
  return options.machines.map((m, i) => simulate(services, m, i, options));
}

/** A simulated machine's life: power on, boot, run what is queued, power off; now and then an operator queues more. */
async function simulate(services: Services, machine: DemoMachine, index: number, options: SimulatedLabOptions): Promise<void> {
  const { signal, log } = options;
  await sleep(index * STAGGER_MS, undefined, { signal }).catch(() => undefined);
  while (!signal.aborted) {
    try {
      await services.control.setPower(machine.name, 'on', {}, DEMO_WHO);
      const { runs } = await bootOnce({ server: options.url, mac: machine.mac, pauseMs: DEMO_STEP_MS }, signal);
      if (!signal.aborted) await services.control.setPower(machine.name, 'off', {}, DEMO_WHO);
      // Idle: play the operator and queue another round, as a lab would.
      if (runs === 0 && !signal.aborted) await queueIfIdle(services, machine.name);
    } catch (error) {
      if (!signal.aborted) log(`demo machine ${machine.name}: ${(error as Error).message}`);
    }
    await sleep(DEMO_REBOOT_MS, undefined, { signal }).catch(() => undefined);
  }
}
