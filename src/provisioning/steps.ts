// The steps deploys and captures share, each run inside an exclusive task on the machine:
// netboot the agent, boot the disk again, power off, end a deployment as failed. And the
// background work that runs after an agent was answered, which stop() waits for.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Clock } from '../store/store.ts';
import { AnvilError } from '../common/errors.ts';
import type { Machine, Machines } from '../machines/machines.ts';
import type { MachineEvents } from '../machines/events.ts';
import type { NextBoot } from '../boot/next-boot.ts';
import type { MachineControl } from '../conductor/machine-control.ts';
import type { Task } from '../conductor/task.ts';
import { NoControllerError } from '../drivers/errors.ts';
import type { ImageLibrary } from './images.ts';
import type { Deployment, Deployments } from './deployments.ts';
import type { ProvisionStates } from './states.ts';
import type { AgentFiles } from './agent-files.ts';
import type { SiteSsh } from './ssh.ts';

/** How long anvil waits for a power action during a deploy or capture. */
export const DEPLOY_POWER_TIMEOUT_MS = 120_000;
/** How long a capture gives the machine's OS to shut down on the power button before it is powered off. */
export const SOFT_OFF_TIMEOUT_MS = 60_000;

export interface ProvisionerParts {
  readonly db: Kysely<Database>;
  readonly machines: Machines;
  readonly events: MachineEvents;
  readonly nextBoot: NextBoot;
  readonly control: MachineControl;
  readonly images: ImageLibrary;
  readonly deployments: Deployments;
  readonly clock: Clock;
  /** Puts the agent into the TFTP root and says where it is (agent-files.ts). */
  readonly stageAgent: () => Promise<AgentFiles>;
  /** The site's SSH key: handed to agents and deployed systems. */
  readonly ssh: SiteSsh;
}

const UNFINISHED = ['starting', 'wait-callback', 'writing', 'reading', 'verifying', 'finishing'];

export class ProvisionSteps {
  readonly parts: ProvisionerParts;
  readonly states: ProvisionStates;
  readonly #background = new Set<Promise<unknown>>();

  constructor(parts: ProvisionerParts, states: ProvisionStates) {
    this.parts = parts;
    this.states = states;
  }

  /** Makes the site's SSH key if it is not there yet; without ssh-keygen, deploys go on without SSH. */
  async siteKey(): Promise<void> {
    await this.parts.ssh.ensureKey().catch(() => undefined);
  }

  task<T>(target: string | Machine, purpose: string, work: (task: Task) => Promise<T>): Promise<T> {
    return this.parts.control.tasks.run(target, { mode: 'exclusive', purpose }, work);
  }

  /** True when anvil can set the machine's boot device and power it (not a machine with driver manual). */
  controllable(task: Task): boolean {
    return task.driver.management.getSupportedBootDevices().length > 0;
  }

  /** Netboot the agent: PXE for the next boot where the controller can say so, and a power cycle. */
  async bootAgent(task: Task, why: string): Promise<void> {
    const { management, power } = task.driver;
    if (management.getSupportedBootDevices().includes('pxe')) await management.setBootDevice('pxe', { persistent: false });
    try {
      const state = await power.reboot({ timeoutMs: DEPLOY_POWER_TIMEOUT_MS });
      await this.parts.control.recordPower(task, state, `${why}: boot the agent`, true);
    } catch (error) {
      if (!(error instanceof NoControllerError)) throw error;
      await this.parts.events.record(task.machine.id, 'provision', `no controller: waiting for ${task.machine.name} to be rebooted into the network by hand`);
    }
  }

  /** From now on the machine boots its disk: local next boot, disk as its persistent boot device, and a power cycle. */
  async bootFromDisk(task: Task, why: string): Promise<void> {
    await this.parts.nextBoot.localBoot(task.machine, why);
    // Its OS is new (or was rebooted into): a host key remembered from before proves nothing.
    await this.parts.ssh.forgetHost(task.machine);
    const { management, power } = task.driver;
    if (!management.getSupportedBootDevices().includes('disk')) return;
    await management.setBootDevice('disk', { persistent: true });
    const state = await power.reboot({ timeoutMs: DEPLOY_POWER_TIMEOUT_MS });
    await this.parts.control.recordPower(task, state, `${why}: boot from disk`, true);
  }

  /** Powers off: the power button first when `soft`, then the hard way. */
  async powerOff(task: Task, why: string, soft = false): Promise<void> {
    if (!this.controllable(task)) return;
    const { power } = task.driver;
    if (soft) {
      try {
        await this.parts.control.recordPower(task, await power.setPowerState('soft-off', { timeoutMs: SOFT_OFF_TIMEOUT_MS }), `${why} (power button)`);
        return;
      } catch (error) {
        await this.parts.events.record(task.machine.id, 'provision', `no shutdown on the power button (${(error as Error).message}); powering off`);
      }
    }
    await this.parts.control.recordPower(task, await power.setPowerState('off', { timeoutMs: DEPLOY_POWER_TIMEOUT_MS }), why);
  }

  async powerOffQuietly(task: Task, why: string): Promise<void> {
    try {
      await this.powerOff(task, why);
    } catch (error) {
      await this.parts.events.record(task.machine.id, 'controller', `could not power off after ${why}: ${(error as Error).message}`);
    }
  }

  /** Ends a deployment as failed: the machine goes to its failure state with the reason and is powered off. */
  async failed(task: Task, deployment: Deployment, reason: string): Promise<void> {
    await this.parts.deployments.move(deployment.id, UNFINISHED, 'failed', { error: reason });
    const current = (await this.parts.machines.byId(task.machine.id)) ?? task.machine;
    if (this.states.canApply(current, 'fail')) await this.states.apply(current, 'fail', 'anvil', reason);
    await this.powerOffQuietly(task, reason);
  }

  async machineOf(deployment: Deployment): Promise<Machine> {
    const machine = await this.parts.machines.byId(deployment.machine_id);
    if (!machine) throw new AnvilError('UNKNOWN_MACHINE', 'not-found', 'the machine of this deploy was deleted');
    return machine;
  }

  /** Runs `step` as an exclusive task after the agent was answered; a failure fails the deployment. */
  later(machine: Machine, deploymentId: number, purpose: string, step: (task: Task) => Promise<void>): void {
    const tracked = this.task(machine.name, purpose, step)
      .catch(async (error: unknown) => {
        const deployment = await this.parts.deployments.get(deploymentId);
        if (!deployment || deployment.finished_at) return;
        await this.task(machine.name, `${deployment.kind}: record the failure`, (task) => this.failed(task, deployment, (error as Error).message)).catch(
          () => undefined,
        );
      })
      .finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  /** Waits for the background steps still running. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#background]);
  }
}
