// The steps deploys and captures share, each run inside an exclusive task on the machine:
// boot the agent (from the network, or from virtual media the BMC inserts), boot the disk
// again, power off, end a deployment as failed. And the background work that runs after an
// agent was answered, which stop() waits for.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Clock } from '../store/store.ts';
import { AnvilError } from '../common/errors.ts';
import type { Machine, Machines } from '../machines/machines.ts';
import type { MachineEvents } from '../machines/events.ts';
import type { NextBoot } from '../boot/next-boot.ts';
import type { MachineControl } from '../conductor/machine-control.ts';
import type { Task } from '../conductor/task.ts';
import { MachineLockedError } from '../conductor/locks.ts';
import { NoControllerError } from '../drivers/errors.ts';
import type { VirtualMediaInterface } from '../drivers/types.ts';
import { agentArguments } from '../boot/boot-service.ts';
import { buildAgentIso } from './agent-iso.ts';
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
  /**
   * Where agent ISOs for virtual media are built, the TFTP root stageAgent's paths are in, and
   * the URL of the anvil serve on this data directory (a BMC fetches the ISO there), if one runs.
   */
  readonly agentMedia?: { readonly dir: string; readonly tftpRoot: string; readonly serverUrl: () => string | undefined };
}

/** How often, and how many times, a step after the agent's answer tries again while that answer still holds the machine. */
const LATER_LOCK_RETRY_MS = 100;
const LATER_LOCK_TRIES = 50;

const UNFINISHED = ['starting', 'wait-callback', 'writing', 'reading', 'verifying', 'finishing'];

export class ProvisionSteps {
  readonly parts: ProvisionerParts;
  readonly states: ProvisionStates;
  readonly #background = new Set<Promise<unknown>>();
  /** In anvil serve: the base URL a BMC fetches anvil's virtual media from (its public URL, else where it listens). */
  mediaBase: string | undefined;

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

  /** The agent's kernel arguments for a deployment (besides console= and anvil.server=). */
  agentArgs(deployment: Deployment): string {
    const key = this.parts.ssh.publicKey();
    // The site's public key lets an operator into the agent over SSH while it works.
    return `anvil.agent=1 anvil.token=${this.parts.deployments.tokenOf(deployment)}${key ? ` anvil.sshkey=${Buffer.from(key).toString('base64url')}` : ''}`;
  }

  /** The agent ISO of a deployment, while it runs (agent-iso.ts). */
  mediaFile(deploymentId: number): string | undefined {
    return this.parts.agentMedia && join(this.parts.agentMedia.dir, `deployment-${deploymentId}.iso`);
  }

  /**
   * Boot the agent: from the network (PXE for the next boot where the controller can say so),
   * or, on a machine whose BMC boots it from virtual media, from an ISO of it the BMC inserts
   * and boots once; then a power cycle.
   */
  async bootAgent(task: Task, why: string, deployment: Deployment): Promise<void> {
    const { management, power, vmedia } = task.driver;
    if (vmedia) await this.#insertAgentMedia(task, deployment, vmedia);
    const device = vmedia ? 'cdrom' : 'pxe';
    if (management.getSupportedBootDevices().includes(device)) await management.setBootDevice(device, { persistent: false });
    try {
      const state = await power.reboot({ timeoutMs: DEPLOY_POWER_TIMEOUT_MS });
      await this.parts.control.recordPower(task, state, `${why}: boot the agent`, true);
    } catch (error) {
      if (!(error instanceof NoControllerError)) throw error;
      await this.parts.events.record(task.machine.id, 'provision', `no controller: waiting for ${task.machine.name} to be rebooted into the network by hand`);
    }
  }

  /**
   * The ISO with the deployment's agent, and its URL handed to the BMC. The agent reaches anvil
   * at the driver's agentServer, else at the host of the URL the BMC fetches from.
   */
  async #insertAgentMedia(task: Task, deployment: Deployment, vmedia: VirtualMediaInterface): Promise<void> {
    const file = this.mediaFile(deployment.id);
    const media = this.parts.agentMedia;
    if (file === undefined || media === undefined) throw new AnvilError('VMEDIA_UNAVAILABLE', 'unavailable', 'this anvil has no folder for agent ISOs');
    const base = this.mediaBase ?? media.serverUrl()?.replace(/\/+$/, '');
    if (base === undefined)
      throw new AnvilError(
        'VMEDIA_UNAVAILABLE',
        'unavailable',
        `${task.machine.name} boots the agent from virtual media, which its BMC fetches from anvil serve, and none runs on this data directory: start anvil serve (with --public-url when the BMC reaches anvil at another address)`,
      );
    const server = vmedia.agentServer ?? base;
    const files = await this.parts.stageAgent();
    await mkdir(media.dir, { recursive: true, mode: 0o700 });
    await buildAgentIso(file, {
      kernel: join(media.tftpRoot, files.kernel),
      initrd: join(media.tftpRoot, files.initrd),
      cmdline: agentArguments({ kernel: files.kernel, initrd: files.initrd, args: this.agentArgs(deployment), label: '' }, server),
    });
    await vmedia.insert(`${base}/agent/v1/media/${this.parts.deployments.tokenOf(deployment)}/agent.iso`);
    // The URL holds the token: the event says where, not what.
    await this.parts.events.record(task.machine.id, 'provision', `virtual media: the BMC inserted the agent ISO from ${base}/agent/v1/media/…`);
  }

  /** Takes the agent ISO out of the BMC and removes it; a failure to eject is recorded, not thrown. */
  async ejectAgentMedia(task: Task, deploymentId: number): Promise<void> {
    const file = this.mediaFile(deploymentId);
    if (task.driver.vmedia) {
      try {
        await task.driver.vmedia.eject();
      } catch (error) {
        await this.parts.events.record(task.machine.id, 'controller', `could not eject the agent ISO: ${(error as Error).message}`);
      }
    }
    if (file !== undefined) await rm(file, { force: true });
  }

  /** From now on the machine boots its disk: local next boot, disk as its persistent boot device, and a power cycle. */
  async bootFromDisk(task: Task, why: string, deploymentId?: number): Promise<void> {
    if (deploymentId !== undefined) await this.ejectAgentMedia(task, deploymentId);
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
    await this.ejectAgentMedia(task, deployment.id);
  }

  async machineOf(deployment: Deployment): Promise<Machine> {
    const machine = await this.parts.machines.byId(deployment.machine_id);
    if (!machine) throw new AnvilError('UNKNOWN_MACHINE', 'not-found', 'the machine of this deploy was deleted');
    return machine;
  }

  /**
   * Set by the provisioner in anvil serve: hands a step after the agent's answer to the
   * machine's owner conductor (a queued work item) when this process is not it; false when
   * the step is to run here.
   */
  handOff: ((machine: string, deploymentId: number, purpose: string) => Promise<boolean>) | undefined;

  /** Runs `step` as an exclusive task after the agent was answered (on the machine's owner); a failure fails the deployment. */
  later(machine: Machine, deploymentId: number, purpose: string, step: (task: Task) => Promise<void>): void {
    const tracked = (async () => {
      if (await this.handOff?.(machine.name, deploymentId, purpose)) return;
      await this.finishStep(machine.name, deploymentId, purpose, step);
    })()
      .catch(() => undefined)
      .finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  /**
   * `step` as an exclusive task; when it fails, the deployment fails with its reason (and the
   * error is thrown on). It starts while the task that answered the agent may still be
   * releasing the machine's lock, so a locked machine is tried again for a while.
   */
  async finishStep(machine: string, deploymentId: number, purpose: string, step: (task: Task) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.task(machine, purpose, step);
        return;
      } catch (error) {
        if (error instanceof MachineLockedError && attempt < LATER_LOCK_TRIES) {
          await new Promise((resolve) => setTimeout(resolve, LATER_LOCK_RETRY_MS));
          continue;
        }
        await this.recordFailure(machine, deploymentId, error);
        throw error;
      }
    }
  }

  /** A step after the agent's answer failed: the deployment fails with the reason, unless it is over already. */
  async recordFailure(machine: string, deploymentId: number, error: unknown): Promise<void> {
    const deployment = await this.parts.deployments.get(deploymentId);
    if (!deployment || deployment.finished_at) return;
    await this.task(machine, `${deployment.kind}: record the failure`, (task) => this.failed(task, deployment, (error as Error).message)).catch(
      () => undefined,
    );
  }

  /** Waits for the background steps still running. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#background]);
  }
}
