// The demo's QEMU machines as a lab would use them: each is deployed with the demo's disk image
// through anvil's provisioning engine (the VM netboots anvil's agent, which writes and verifies
// the image; anvil sets its boot device to disk and power-cycles it), then boots its disk,
// where the tiny Linux runs the machine's next test, uploads it and powers off; the demo powers
// it on again after a pause, queueing another round when nothing is left. The first machine is
// deployed alone (TCG on a small machine: it reports soonest), the others one after another.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Services } from '../compose.ts';
import type { LabPowerEvent, LabVm } from '../../lab/vm.ts';
import { TRANSIENT_STATES } from '../../provisioning/states.ts';
import { DEMO_IMAGE } from './image.ts';

/** Who the demo's steps are recorded as. */
export const DEMO_WHO = 'anvil demo';
/** How long a demo deploy may take (under TCG a deploy takes about a minute). */
export const DEMO_DEPLOY_TIMEOUT_S = 600;
/** How long a VM that powered itself off stays off before the demo powers it on again. */
export const DEMO_VM_REBOOT_MS = 10_000;
const DEPLOY_POLL_MS = 1_000;
/** Provision states a demo deploy starts from; a transient one (a demo stopped mid-deploy) is aborted first. */
const DEPLOYABLE = ['available', 'active', 'deploy-failed'];
/** The tests the demo queues when a machine has none left. */
const ROUNDS = ['hello', 'disk', 'memtest'];

export interface DeployedLabOptions {
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

/** The next power-off of the VM, or the abort. */
export function nextOff(vm: LabVm, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      vm.off('power', onPower);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const onPower = (e: LabPowerEvent): void => {
      if (e.state === 'off') done();
    };
    vm.on('power', onPower);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Queues a round of tests unless the machine still has one waiting, as an operator of the lab would. */
export async function queueIfIdle(services: Services, name: string): Promise<void> {
  const machine = await services.machines.find(name);
  if ((await services.testing.runsOf(machine.id, 20)).some((r) => r.state === 'requested')) return;
  await services.testing.queue(machine, ROUNDS.slice(0, 1 + (Date.now() % ROUNDS.length)));
}

/** Deploys the demo image to the machine and waits for the outcome; true when it is active. */
export async function deployDemoImage(services: Services, name: string, options: DeployedLabOptions): Promise<boolean> {
  const { signal, log } = options;
  const machine = await services.machines.find(name);
  if ((TRANSIENT_STATES as readonly string[]).includes(machine.provision_state)) await services.provisioner.abort(name, DEMO_WHO);
  const state = (await services.machines.find(name)).provision_state;
  if (!DEPLOYABLE.includes(state)) {
    log(`${name} is ${state}: the demo does not deploy it (anvil machine manage/provide ${name} makes it available)`);
    return false;
  }
  const started = performance.now();
  log(`${name}: deploying image ${DEMO_IMAGE} (anvil machine deploy ${name} --image ${DEMO_IMAGE})`);
  await services.provisioner.deploy(name, { image: DEMO_IMAGE, timeoutS: DEMO_DEPLOY_TIMEOUT_S }, DEMO_WHO);
  while (!signal.aborted) {
    const view = await services.provisioner.view(name);
    if (view.provisionState === 'active') {
      log(`${name}: active with image ${DEMO_IMAGE} after ${Math.round((performance.now() - started) / 1000)} s; it boots its disk and runs its tests`);
      return true;
    }
    if (view.provisionState === 'deploy-failed' || view.provisionState === 'error') {
      log(`${name}: the deploy failed: ${view.error ?? 'no reason recorded'}`);
      return false;
    }
    await sleep(DEPLOY_POLL_MS, undefined, { signal }).catch(() => undefined);
  }
  return false;
}

/**
 * A deployed VM's life: waits for `turn` (the previous VM's deploy), deploys, then keeps booting
 * its disk until the signal. Resolves with its own deploy's end through `deployed`.
 */
export async function deployedLife(services: Services, vm: LabVm, turn: Promise<void>, deployed: () => void, options: DeployedLabOptions): Promise<void> {
  const { signal, log } = options;
  await turn;
  let active = false;
  try {
    if (!signal.aborted) active = await deployDemoImage(services, vm.name, options);
  } catch (error) {
    if (!signal.aborted) log(`${vm.name}: the deploy did not start: ${(error as Error).message}`);
  } finally {
    deployed();
  }
  // The deploy left it booting its disk: it runs its first test and powers off.
  while (active && !signal.aborted) {
    try {
      const off = nextOff(vm, signal);
      if ((await vm.getPowerState()) !== 'on') await services.control.setPower(vm.name, 'on', {}, DEMO_WHO);
      await off;
      if (signal.aborted) break;
      await queueIfIdle(services, vm.name);
    } catch (error) {
      if (!signal.aborted) log(`${vm.name}: ${(error as Error).message}`);
    }
    await sleep(DEMO_VM_REBOOT_MS, undefined, { signal }).catch(() => undefined);
  }
}
