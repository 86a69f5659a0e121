// The provisioning engine: manage, provide, deploy, undeploy and abort, each step an exclusive
// task on the machine (conductor/task.ts) that moves its provision state by the one table in
// states.ts. A deploy: the machine PXE-boots anvil's agent (its boot answer, while the deploy
// waits for it), the agent calls back with its token, streams the image to its disk and reads
// it back; anvil checks the checksum, sets the machine to boot its disk and power-cycles it.
// A deploy that outlives its deadline fails with the reason; after a restart every deploy in
// flight is resumed or failed, never left.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Clock } from '../store/store.ts';
import { AnvilError, invalid } from '../common/errors.ts';
import type { Machine, Machines } from '../machines/machines.ts';
import type { MachineEvents } from '../machines/events.ts';
import type { NextBoot } from '../boot/next-boot.ts';
import type { AgentBoot, AgentBootSource } from '../boot/boot-service.ts';
import type { MachineControl } from '../conductor/machine-control.ts';
import type { Task } from '../conductor/task.ts';
import { MachineLockedError } from '../conductor/locks.ts';
import { NoControllerError } from '../drivers/errors.ts';
import type { ImageLibrary } from './images.ts';
import { AGENT_STATES, AgentRefusedError, deadlineOf, Deployments, type Deployment, type DeploymentState } from './deployments.ts';
import { ProvisionStates, TRANSIENT_STATES, type ProvisionEvent, type ProvisionState } from './states.ts';
import { chooseDisk, formatAgentMessage, integer, parseHello, first, type AgentMessage } from './agent-protocol.ts';
import type { AgentFiles } from './agent-files.ts';

/** How long a deploy may take from start to active, unless the machine or the request says otherwise (Ironic's deploy_callback_timeout). */
export const DEFAULT_DEPLOY_TIMEOUT_S = 1800;
/** How long anvil waits for a power action during a deploy. */
export const DEPLOY_POWER_TIMEOUT_MS = 120_000;
/** The deployment state an agent's progress phase puts it in. */
const PHASE_STATES: Readonly<Record<string, DeploymentState>> = { write: 'writing', verify: 'verifying', read: 'reading' };
/** Seconds between an agent's progress reports. */
export const PROGRESS_INTERVAL_S = 2;

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
}

export interface DeployRequest {
  readonly image: string;
  /** Seconds; default the machine's, then the server's. */
  readonly timeoutS?: number | undefined;
  /** The disk to write (vda or /dev/vda); default the smallest the image fits. */
  readonly disk?: string | undefined;
}

/** What the CLI, API and pages show of a machine's provisioning. */
export interface ProvisionView {
  readonly name: string;
  readonly provisionState: string;
  readonly image: string | null;
  readonly error: string | null;
  readonly deployment: DeploymentView | undefined;
}

export interface DeploymentView {
  readonly id: number;
  readonly kind: string;
  readonly image: string;
  readonly state: string;
  readonly phase: string | null;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly startedAt: string;
  readonly progressAt: string | null;
  readonly finishedAt: string | null;
  readonly deadline: string;
  readonly device: string | null;
  readonly requestedBy: string;
  readonly error: string | null;
}

export class Provisioner implements AgentBootSource {
  readonly deployments: Deployments;
  readonly states: ProvisionStates;
  readonly #parts: ProvisionerParts;
  readonly #defaultTimeoutS: number;
  /** Finishing steps run after the agent was answered; stop() waits for them. */
  readonly #background = new Set<Promise<unknown>>();

  constructor(parts: ProvisionerParts, options: { defaultTimeoutS?: number } = {}) {
    this.#parts = parts;
    this.deployments = parts.deployments;
    this.states = new ProvisionStates(parts.db, parts.events, parts.clock);
    this.#defaultTimeoutS = options.defaultTimeoutS ?? DEFAULT_DEPLOY_TIMEOUT_S;
  }

  get defaultTimeoutS(): number {
    return this.#defaultTimeoutS;
  }

  #task<T>(target: string | Machine, purpose: string, work: (task: Task) => Promise<T>): Promise<T> {
    return this.#parts.control.tasks.run(target, { mode: 'exclusive', purpose }, work);
  }

  // ---- the verbs ----------------------------------------------------------------------

  /** manage: enroll, available or a failure state → manageable. */
  async manage(nameOrMac: string, who: string): Promise<ProvisionView> {
    await this.#task(nameOrMac, `manage (${who})`, (task) => this.states.apply(task.machine, 'manage', who));
    return this.view(nameOrMac);
  }

  /** provide: manageable → available. */
  async provide(nameOrMac: string, who: string): Promise<ProvisionView> {
    await this.#task(nameOrMac, `provide (${who})`, (task) => this.states.apply(task.machine, 'provide', who));
    return this.view(nameOrMac);
  }

  /** Starts a deploy: the machine netboots the agent. Returns once it is waiting for the agent. */
  async deploy(nameOrMac: string, request: DeployRequest, who: string): Promise<ProvisionView> {
    if (request.timeoutS !== undefined && !(Number.isInteger(request.timeoutS) && request.timeoutS > 0)) {
      throw invalid('INVALID_TIMEOUT', `the deploy timeout must be a whole number of seconds above 0, not ${request.timeoutS}`);
    }
    if (!request.image) throw invalid('IMAGE_REQUIRED', 'a deploy needs an image: name one of the library (anvil image list)');
    const image = await this.#parts.images.get(request.image);
    await this.#parts.stageAgent();
    await this.#task(nameOrMac, `deploy ${image.name} (${who})`, async (task) => {
      const machine = task.machine;
      if (machine.maintenance === 1) {
        throw new AnvilError(
          'MACHINE_IN_MAINTENANCE',
          'conflict',
          `machine '${machine.name}' is in maintenance (${machine.maintenance_reason ?? 'no reason given'}); take it out first`,
        );
      }
      this.states.check(machine, 'deploy');
      const deployment = await this.deployments.create({
        machineId: machine.id,
        kind: 'deploy',
        imageId: image.id,
        imageName: image.name,
        requestedBy: who,
        timeoutS: request.timeoutS ?? machine.deploy_timeout_s,
        bytesTotal: Number(image.virtual_size),
      });
      if (request.disk) await this.deployments.move(deployment.id, ['starting'], 'starting', { device: request.disk });
      let state = await this.states.apply(machine, 'deploy', who);
      try {
        await this.#bootAgent(task, `deploy of ${image.name}`);
        await this.deployments.move(deployment.id, ['starting'], 'wait-callback', { phase: 'boot' });
        state = await this.states.apply({ ...machine, provision_state: state }, 'wait', 'anvil (the agent is booting)');
      } catch (error) {
        await this.#failed(task, { ...machine, provision_state: state }, deployment, `could not boot the agent: ${(error as Error).message}`);
        throw error;
      }
    });
    return this.view(nameOrMac);
  }

  /** undeploy: powers the machine off and forgets its image; active or a failure state → available. */
  async undeploy(nameOrMac: string, who: string): Promise<ProvisionView> {
    await this.#task(nameOrMac, `undeploy (${who})`, async (task) => {
      const state = await this.states.apply(task.machine, 'undeploy', who);
      await this.#finishUndeploy(task, { ...task.machine, provision_state: state }, who);
    });
    return this.view(nameOrMac);
  }

  /** abort: a deploy waiting for or talking to its agent → deploy-failed; its token stops working. */
  async abort(nameOrMac: string, who: string): Promise<ProvisionView> {
    await this.#task(nameOrMac, `abort (${who})`, async (task) => {
      this.states.check(task.machine, 'abort');
      const deployment = await this.deployments.current(task.machine.id);
      if (deployment) await this.deployments.move(deployment.id, [deployment.state], 'failed', { error: `aborted by ${who}` });
      await this.states.apply(task.machine, 'abort', who, `aborted by ${who}`);
      await this.#powerOffQuietly(task, 'deploy aborted');
    });
    return this.view(nameOrMac);
  }

  // ---- the agent ----------------------------------------------------------------------

  /** The boot answer's question: is this machine to boot the agent now? */
  async agentFor(machine: Machine): Promise<AgentBoot | undefined> {
    if (!(TRANSIENT_STATES as readonly string[]).includes(machine.provision_state)) return undefined;
    const deployment = await this.deployments.current(machine.id);
    if (!deployment || !(AGENT_STATES as readonly string[]).includes(deployment.state)) return undefined;
    const files = await this.#parts.stageAgent();
    return {
      kernel: files.kernel,
      initrd: files.initrd,
      args: `anvil.agent=1 anvil.token=${this.deployments.tokenOf(deployment)}`,
      label: `anvil agent (${deployment.kind} ${deployment.image_name})`,
    };
  }

  /** POST /agent/v1/hello: the agent has booted; it learns what to do. */
  async hello(token: string | undefined, message: AgentMessage): Promise<string> {
    const deployment = await this.deployments.byToken(token);
    const hello = parseHello(message);
    return this.#task(await this.#machineOf(deployment), `${deployment.kind}: the agent called back`, async (task) => {
      const machine = task.machine;
      const macs = await this.#parts.machines.macsOf(machine.id);
      if (hello.macs.length > 0 && !hello.macs.some((m) => macs.includes(m.toLowerCase()))) {
        await this.#failed(
          task,
          machine,
          deployment,
          `the agent that called back has MACs ${hello.macs.join(', ')}, none of them machine '${machine.name}'s (${macs.join(', ')})`,
        );
        return formatAgentMessage({ action: 'stop', message: 'this agent runs on another machine than the deploy is for' });
      }
      const image = deployment.image_id === null ? undefined : await this.#parts.images.byId(deployment.image_id);
      if (!image) {
        await this.#failed(task, machine, deployment, `image '${deployment.image_name}' is no longer in the library`);
        return formatAgentMessage({ action: 'stop', message: `image ${deployment.image_name} is gone` });
      }
      const choice = chooseDisk(hello.disks, Number(image.virtual_size), deployment.device ?? undefined);
      if ('reason' in choice) {
        await this.#failed(task, machine, deployment, choice.reason);
        return formatAgentMessage({ action: 'stop', message: choice.reason });
      }
      const device = `/dev/${choice.disk.name}`;
      await this.deployments.move(deployment.id, ['wait-callback', 'writing', 'verifying'], 'writing', {
        phase: 'write',
        device,
        bytes_done: 0,
        agent_info: JSON.stringify(hello),
      });
      if (machine.provision_state === 'wait-callback') await this.states.apply(machine, 'callback', 'its agent');
      await this.#parts.events.record(machine.id, 'provision', `agent called back (kernel ${hello.kernel ?? '?'}); writing ${image.name} to ${device}`);
      return formatAgentMessage({
        action: 'deploy',
        device,
        image_url: '/agent/v1/image',
        format: image.format,
        size: Number(image.virtual_size),
        sha256: image.sha256,
        progress_interval: PROGRESS_INTERVAL_S,
      });
    });
  }

  /** The image a deploy's agent streams (GET /agent/v1/image). */
  async imageFor(token: string | undefined): Promise<{ path: string; size: number; format: string }> {
    const deployment = await this.deployments.byToken(token);
    const image = deployment.image_id === null ? undefined : await this.#parts.images.byId(deployment.image_id);
    if (!image || deployment.kind !== 'deploy') throw invalid('NO_IMAGE', 'this deploy has no image to send');
    return { path: this.#parts.images.pathOf(image), size: Number(image.stored_size), format: image.format };
  }

  /** POST /agent/v1/progress: false (answered 403) once the deploy no longer takes reports. */
  async progress(token: string | undefined, message: AgentMessage): Promise<void> {
    const deployment = await this.deployments.byToken(token);
    const phase = first(message, 'phase') ?? 'write';
    const moved = PHASE_STATES[phase];
    if (moved && moved !== deployment.state) await this.deployments.move(deployment.id, [deployment.state], moved);
    if (!(await this.deployments.progress(deployment.id, phase.slice(0, 32), integer(message, 'bytes') ?? 0))) {
      throw new AgentRefusedError(`the ${deployment.kind} this agent works for has ended`);
    }
  }

  /** POST /agent/v1/result: the agent is done, one way or the other. Answers what it does next. */
  async result(token: string | undefined, message: AgentMessage): Promise<string> {
    const deployment = await this.deployments.byToken(token);
    const machine = await this.#machineOf(deployment);
    const status = first(message, 'status');
    const summary = {
      sha256: first(message, 'sha256'),
      bytes: integer(message, 'bytes'),
      write_seconds: first(message, 'write_seconds'),
      verify_seconds: first(message, 'verify_seconds'),
      phase: first(message, 'phase'),
      message: first(message, 'message'),
    };
    return this.#task(machine, `${deployment.kind}: the agent finished`, async (task) => {
      if (status !== 'ok') {
        const words = summary.message?.slice(0, 500) || 'no reason given';
        await this.#failed(task, task.machine, deployment, `the agent failed${summary.phase ? ` in ${summary.phase}` : ''}: ${words}`);
        return formatAgentMessage({ action: 'poweroff' });
      }
      const image = deployment.image_id === null ? undefined : await this.#parts.images.byId(deployment.image_id);
      if (!image || summary.sha256 !== image.sha256) {
        await this.#failed(
          task,
          task.machine,
          deployment,
          `checksum mismatch: the agent read back sha256 ${summary.sha256 ?? '(none)'} from ${deployment.device}, image ${deployment.image_name} has ${image?.sha256 ?? '(gone)'}`,
        );
        return formatAgentMessage({ action: 'poweroff' });
      }
      await this.deployments.move(deployment.id, AGENT_STATES, 'finishing', {
        phase: 'boot from disk',
        result: JSON.stringify(summary),
        bytes_done: summary.bytes ?? 0,
      });
      const manual = task.driver.management.getSupportedBootDevices().length === 0;
      if (manual) {
        // No controller to power-cycle it: the machine reboots itself into its local boot.
        await this.#finishDeploy(task, deployment.id, image.id, image.name);
        return formatAgentMessage({ action: 'reboot' });
      }
      this.#later(
        this.#task(machine.name, `deploy: boot ${machine.name} from its disk`, (t) => this.#finishDeploy(t, deployment.id, image.id, image.name)),
        machine,
        deployment.id,
      );
      return formatAgentMessage({ action: 'wait' });
    });
  }

  // ---- steps --------------------------------------------------------------------------

  /** Netboot the agent: PXE for the next boot where the controller can say so, and a power cycle. */
  async #bootAgent(task: Task, why: string): Promise<void> {
    const { management, power } = task.driver;
    if (management.getSupportedBootDevices().includes('pxe')) await management.setBootDevice('pxe', { persistent: false });
    try {
      const state = await power.reboot({ timeoutMs: DEPLOY_POWER_TIMEOUT_MS });
      await this.#parts.control.recordPower(task, state, `${why}: boot the agent`, true);
    } catch (error) {
      if (!(error instanceof NoControllerError)) throw error;
      await this.#parts.events.record(task.machine.id, 'provision', `no controller: waiting for ${task.machine.name} to be rebooted into the network by hand`);
    }
  }

  /** The deploy is written and verified: boot from disk from now on, power-cycle, active. */
  async #finishDeploy(task: Task, deploymentId: number, imageId: number, imageName: string): Promise<void> {
    const machine = task.machine;
    await this.#parts.nextBoot.localBoot(machine, `deploy of ${imageName} finished`);
    const { management, power } = task.driver;
    if (management.getSupportedBootDevices().includes('disk')) {
      await management.setBootDevice('disk', { persistent: true });
      const state = await power.reboot({ timeoutMs: DEPLOY_POWER_TIMEOUT_MS });
      await this.#parts.control.recordPower(task, state, `deploy of ${imageName}: boot from disk`, true);
    }
    await this.#parts.db.updateTable('machines').set({ image_id: imageId, image_name: imageName }).where('id', '=', machine.id).execute();
    await this.deployments.move(deploymentId, ['finishing'], 'done', { phase: 'done' });
    await this.states.apply(machine, 'done', 'anvil (deploy finished)');
  }

  async #finishUndeploy(task: Task, machine: Machine, who: string): Promise<void> {
    try {
      if (task.driver.management.getSupportedBootDevices().length > 0) {
        const state = await task.driver.power.setPowerState('off', { timeoutMs: DEPLOY_POWER_TIMEOUT_MS });
        await this.#parts.control.recordPower(task, state, `undeploy by ${who}`);
      }
      await this.#parts.db.updateTable('machines').set({ image_id: null, image_name: null }).where('id', '=', machine.id).execute();
      await this.states.apply(machine, 'done', `anvil (undeploy by ${who})`);
    } catch (error) {
      await this.states.apply(machine, 'fail', 'anvil', `undeploy failed: ${(error as Error).message}`);
      throw error;
    }
  }

  /** Ends a deployment as failed: the machine goes to its failure state with the reason and is powered off. */
  async #failed(task: Task, machine: Machine, deployment: Deployment, reason: string): Promise<void> {
    await this.deployments.move(deployment.id, ['starting', 'wait-callback', 'writing', 'reading', 'verifying', 'finishing'], 'failed', { error: reason });
    const current = (await this.#parts.machines.byId(machine.id)) ?? machine;
    if (this.states.canApply(current, 'fail')) await this.states.apply(current, 'fail', 'anvil', reason);
    await this.#powerOffQuietly(task, reason);
  }

  async #powerOffQuietly(task: Task, why: string): Promise<void> {
    if (task.driver.management.getSupportedBootDevices().length === 0) return;
    try {
      const state = await task.driver.power.setPowerState('off', { timeoutMs: DEPLOY_POWER_TIMEOUT_MS });
      await this.#parts.control.recordPower(task, state, why);
    } catch (error) {
      await this.#parts.events.record(task.machine.id, 'controller', `could not power off after ${why}: ${(error as Error).message}`);
    }
  }

  async #machineOf(deployment: Deployment): Promise<Machine> {
    const machine = await this.#parts.machines.byId(deployment.machine_id);
    if (!machine) throw new AnvilError('UNKNOWN_MACHINE', 'not-found', 'the machine of this deploy was deleted');
    return machine;
  }

  /** Runs a step after the agent was answered; a failure fails the deployment. */
  #later(step: Promise<unknown>, machine: Machine, deploymentId: number): void {
    const tracked = step
      .catch(async (error: unknown) => {
        const deployment = await this.deployments.get(deploymentId);
        if (!deployment || deployment.finished_at) return;
        await this.#task(machine.name, 'deploy: record the failure', (task) => this.#failed(task, task.machine, deployment, (error as Error).message)).catch(
          () => undefined,
        );
      })
      .finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  // ---- the watchdog and restarts --------------------------------------------------------

  /** Fails every deploy past its deadline. Returns the machines failed. */
  async expire(): Promise<string[]> {
    const now = this.#parts.clock().getTime();
    const failed: string[] = [];
    for (const deployment of await this.deployments.unfinished()) {
      if (deadlineOf(deployment, this.#defaultTimeoutS) > now) continue;
      const machine = await this.#machineOf(deployment).catch(() => undefined);
      if (!machine) continue;
      const seconds = deployment.timeout_s ?? this.#defaultTimeoutS;
      const last = deployment.progress_at
        ? `last progress: ${deployment.phase} at ${deployment.bytes_done} bytes, ${deployment.progress_at}`
        : `no progress reported (${deployment.state})`;
      try {
        await this.#task(machine, `${deployment.kind}: deadline passed`, (task) =>
          this.#failed(task, task.machine, deployment, `the ${deployment.kind} did not finish within ${seconds} s; ${last}`),
        );
        failed.push(machine.name);
      } catch (error) {
        if (!(error instanceof MachineLockedError)) throw error;
      }
    }
    return failed;
  }

  /**
   * After a restart: every machine left in a transient state is resumed (its agent may still be
   * talking, or its last step is redone) or failed with the reason. Returns what was done.
   */
  async recover(): Promise<Array<{ machine: string; outcome: string }>> {
    const report: Array<{ machine: string; outcome: string }> = [];
    const now = this.#parts.clock().getTime();
    const unfinished = new Map((await this.deployments.unfinished()).map((d) => [d.machine_id, d]));
    const stuck = await this.#parts.db
      .selectFrom('machines')
      .selectAll()
      .where('provision_state', 'in', [...TRANSIENT_STATES])
      .execute();
    for (const machine of stuck) {
      const deployment = unfinished.get(machine.id);
      unfinished.delete(machine.id);
      const outcome = await this.#task(machine, 'recover after a restart', async (task) => {
        if (machine.provision_state === 'undeploying') {
          await this.#finishUndeploy(task, task.machine, 'anvil (after a restart)');
          return 'undeploy finished';
        }
        if (!deployment) {
          await this.states.apply(task.machine, 'fail', 'anvil', `anvil restarted while ${machine.provision_state}, and no deploy or capture was in progress`);
          return 'failed: nothing was in progress';
        }
        if (deployment.state === 'starting') {
          await this.#failed(task, task.machine, deployment, 'anvil stopped while starting the deploy; deploy again');
          return 'failed: stopped while starting';
        }
        if (deadlineOf(deployment, this.#defaultTimeoutS) <= now) {
          await this.#failed(task, task.machine, deployment, `anvil was stopped and the ${deployment.kind} is past its deadline`);
          return 'failed: past its deadline';
        }
        if (deployment.state === 'finishing' && deployment.image_id !== null) {
          await this.#finishDeploy(task, deployment.id, deployment.image_id, deployment.image_name);
          return 'resumed: booted from disk';
        }
        await this.#parts.events.record(
          machine.id,
          'provision',
          `anvil restarted: resumed the ${deployment.kind} of ${deployment.image_name}, waiting for its agent (${deployment.state})`,
        );
        return `resumed: waiting for the agent (${deployment.state})`;
      });
      report.push({ machine: machine.name, outcome });
    }
    // A deployment whose machine left the transient states by other means is over.
    for (const deployment of unfinished.values())
      await this.deployments.move(deployment.id, [deployment.state], 'failed', { error: 'its machine is no longer being provisioned' });
    return report;
  }

  /** Waits for the finishing steps still running. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#background]);
  }

  // ---- views --------------------------------------------------------------------------

  async view(nameOrMac: string): Promise<ProvisionView> {
    const machine = await this.#parts.machines.find(nameOrMac);
    const deployment = (await this.deployments.current(machine.id)) ?? (await this.deployments.latest(machine.id));
    return {
      name: machine.name,
      provisionState: machine.provision_state,
      image: machine.image_name,
      error: machine.provision_error,
      deployment: deployment ? this.deploymentView(deployment) : undefined,
    };
  }

  deploymentView(d: Deployment): DeploymentView {
    return {
      id: d.id,
      kind: d.kind,
      image: d.image_name,
      state: d.state,
      phase: d.phase,
      bytesDone: Number(d.bytes_done),
      bytesTotal: Number(d.bytes_total),
      startedAt: d.created_at,
      progressAt: d.progress_at,
      finishedAt: d.finished_at,
      deadline: new Date(deadlineOf(d, this.#defaultTimeoutS)).toISOString(),
      device: d.device,
      requestedBy: d.requested_by,
      error: d.error,
    };
  }
}

export type { ProvisionEvent, ProvisionState };
