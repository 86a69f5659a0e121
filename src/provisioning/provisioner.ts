// The provisioning engine: manage, provide, deploy (deploy.ts), capture (capture.ts),
// undeploy and abort, each step an exclusive task on the machine (conductor/task.ts) that
// moves its provision state by the one table in states.ts; the agent's requests routed to the
// deploy or capture they belong to; deadlines and stalls watched; and after a restart every
// machine left in a transient state resumed or failed with the reason, never left.
import type { Readable } from 'node:stream';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentBoot, AgentBootSource } from '../boot/boot-service.ts';
import type { Machine } from '../machines/machines.ts';
import type { Task } from '../conductor/task.ts';
import type { WorkQueue } from '../conductor/work.ts';
import { MachineLockedError } from '../conductor/locks.ts';
import { invalid, notFound } from '../common/errors.ts';
import { AGENT_STATES, AgentRefusedError, deadlineOf, Deployments, type Deployment, type DeploymentState } from './deployments.ts';
import { ProvisionStates, TRANSIENT_STATES, type ProvisionEvent, type ProvisionState } from './states.ts';
import { first, integer, parseHello, formatAgentMessage, type AgentMessage } from './agent-protocol.ts';
import { ProvisionSteps, type ProvisionerParts } from './steps.ts';
import { DeployFlow, type AgentSummary, type DeployRequest } from './deploy.ts';
import { CaptureFlow, type CaptureRequest, type PreCaptureHook } from './capture.ts';
import type { PeerRequest } from './image-copies.ts';

export type { ProvisionerParts } from './steps.ts';
export type { DeployRequest } from './deploy.ts';
export type { CaptureRequest } from './capture.ts';

/** How long a deploy may take from start to active, unless the machine or the request says otherwise (Ironic's deploy_callback_timeout). */
export const DEFAULT_DEPLOY_TIMEOUT_S = 1800;
/** How long a deploy or capture may go without progress (VCL's capture: 20 min with no change). */
export const DEFAULT_STALL_TIMEOUT_S = 20 * 60;

/** How long a deploy's or capture's start may take on the machine's owner (a soft power-off, then booting the agent). */
const START_TIMEOUT_MS = 5 * 60_000;

/** Which machines this process does the provisioning work of, and where the rest goes (anvil serve). */
export interface ProvisionConductor {
  owns(machineName: string): boolean;
  readonly work: WorkQueue;
}

/** The deployment state an agent's progress phase puts it in. */
const PHASE_STATES: Readonly<Record<string, DeploymentState>> = { write: 'writing', verify: 'verifying', read: 'reading' };

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
  /** A deploy's currentimage.txt, as its agent reported: 'written /dev/vda1 vfat', 'skipped …'; null when it did not say. */
  readonly currentimage: string | null;
}

/** What the agent said of currentimage.txt in a deployment's result (JSON of its AgentSummary). */
function currentImageOf(result: string | null): string | null {
  if (!result) return null;
  try {
    const value = (JSON.parse(result) as { currentimage?: unknown }).currentimage;
    return typeof value === 'string' ? value : null;
  } catch {
    return null;
  }
}

export interface ProvisionerOptions {
  readonly defaultTimeoutS?: number | undefined;
  readonly stallTimeoutS?: number | undefined;
  readonly preCapture?: PreCaptureHook | undefined;
}

export class Provisioner implements AgentBootSource {
  readonly deployments: Deployments;
  readonly states: ProvisionStates;
  readonly #parts: ProvisionerParts;
  readonly #steps: ProvisionSteps;
  readonly #deploy: DeployFlow;
  readonly #capture: CaptureFlow;
  readonly #defaultTimeoutS: number;
  readonly #stallTimeoutS: number;
  #conductor: ProvisionConductor | undefined;

  constructor(parts: ProvisionerParts, options: ProvisionerOptions = {}) {
    this.#parts = parts;
    this.deployments = parts.deployments;
    this.states = new ProvisionStates(parts.db, parts.events, parts.clock);
    this.#steps = new ProvisionSteps(parts, this.states);
    this.#deploy = new DeployFlow(this.#steps);
    this.#capture = new CaptureFlow(this.#steps, options.preCapture);
    this.#defaultTimeoutS = options.defaultTimeoutS ?? DEFAULT_DEPLOY_TIMEOUT_S;
    this.#stallTimeoutS = options.stallTimeoutS ?? DEFAULT_STALL_TIMEOUT_S;
  }

  get defaultTimeoutS(): number {
    return this.#defaultTimeoutS;
  }

  /**
   * From now on the driver's part of provisioning runs on each machine's owner conductor:
   * deploy, capture, undeploy and abort through the work queue, the boot from disk after an
   * agent's result handed to the owner, and deadlines and recovery only for owned machines.
   */
  useConductor(conductor: ProvisionConductor): void {
    this.#conductor = conductor;
    const { work } = conductor;
    work.handle('deploy', (machine, args, who) => this.#deployHere(machine, args as unknown as DeployRequest, who));
    work.handle('capture', (machine, args, who) => this.#captureHere(machine, args as unknown as CaptureRequest, who));
    work.handle('undeploy', (machine, _args, who) => this.#undeployHere(machine, who));
    work.handle('abort', (machine, _args, who) => this.#abortHere(machine, who));
    work.handle('finish', (machine, args) => this.#finishHere(machine, Number(args.deploymentId), String(args.purpose)));
    this.#steps.handOff = async (machine, deploymentId, purpose) => {
      if (conductor.owns(machine)) return false;
      await work.enqueue(machine, 'finish', { deploymentId, purpose }, 'anvil (the agent finished)');
      return true;
    };
  }

  #owns(machineName: string): boolean {
    return this.#conductor?.owns(machineName) ?? true;
  }

  /** Runs a verb on the machine's owner (here without a conductor). */
  async #onOwner(nameOrMac: string, kind: string, args: object, who: string, here: (name: string) => Promise<ProvisionView>): Promise<ProvisionView> {
    const conductor = this.#conductor;
    if (!conductor) return here(nameOrMac);
    const { name } = await this.#parts.machines.find(nameOrMac);
    return conductor.work.submit(name, kind, { ...args }, who, { timeoutMs: START_TIMEOUT_MS, inline: () => here(name) });
  }

  /** The boot from disk after an agent's result, handed here as the machine's owner. */
  async #finishHere(machine: string, deploymentId: number, purpose: string): Promise<null> {
    const deployment = await this.deployments.get(deploymentId);
    if (!deployment || deployment.finished_at || deployment.state !== 'finishing') return null;
    const step =
      deployment.kind === 'capture'
        ? (t: Task) => this.#capture.finish(t, deploymentId)
        : (t: Task) => this.#deploy.finish(t, deploymentId, deployment.image_id!, deployment.image_name);
    await this.#steps.finishStep(machine, deploymentId, `${purpose} (handed over)`, step);
    return null;
  }

  // ---- the verbs ----------------------------------------------------------------------

  /** manage: enroll, available or a failure state → manageable. */
  async manage(nameOrMac: string, who: string): Promise<ProvisionView> {
    await this.#steps.task(nameOrMac, `manage (${who})`, (task) => this.states.apply(task.machine, 'manage', who));
    return this.view(nameOrMac);
  }

  /** provide: manageable → available. */
  async provide(nameOrMac: string, who: string): Promise<ProvisionView> {
    await this.#steps.task(nameOrMac, `provide (${who})`, (task) => this.states.apply(task.machine, 'provide', who));
    return this.view(nameOrMac);
  }

  /** Starts a deploy (VCL's load); returns once the machine is booting its agent. */
  async deploy(nameOrMac: string, request: DeployRequest, who: string): Promise<ProvisionView> {
    return this.#onOwner(nameOrMac, 'deploy', request, who, (name) => this.#deployHere(name, request, who));
  }

  async #deployHere(nameOrMac: string, request: DeployRequest, who: string): Promise<ProvisionView> {
    await this.#deploy.start(nameOrMac, request, who);
    return this.view(nameOrMac);
  }

  /** Starts a capture of the machine's disk into a new image; returns once it is booting its agent. */
  async capture(nameOrMac: string, request: CaptureRequest, who: string): Promise<ProvisionView> {
    return this.#onOwner(nameOrMac, 'capture', request, who, (name) => this.#captureHere(name, request, who));
  }

  async #captureHere(nameOrMac: string, request: CaptureRequest, who: string): Promise<ProvisionView> {
    await this.#capture.start(nameOrMac, request, who);
    return this.view(nameOrMac);
  }

  /** undeploy: powers the machine off and forgets its image; active or a failure state → available. */
  async undeploy(nameOrMac: string, who: string): Promise<ProvisionView> {
    return this.#onOwner(nameOrMac, 'undeploy', {}, who, (name) => this.#undeployHere(name, who));
  }

  async #undeployHere(nameOrMac: string, who: string): Promise<ProvisionView> {
    await this.#steps.task(nameOrMac, `undeploy (${who})`, async (task) => {
      const state = await this.states.apply(task.machine, 'undeploy', who);
      await this.#finishUndeploy(task, { ...task.machine, provision_state: state }, who);
    });
    return this.view(nameOrMac);
  }

  /** abort: a deploy or capture in progress → its failure state; its token stops working. */
  async abort(nameOrMac: string, who: string): Promise<ProvisionView> {
    return this.#onOwner(nameOrMac, 'abort', {}, who, (name) => this.#abortHere(name, who));
  }

  async #abortHere(nameOrMac: string, who: string): Promise<ProvisionView> {
    await this.#steps.task(nameOrMac, `abort (${who})`, async (task) => {
      this.states.check(task.machine, 'abort');
      const deployment = await this.deployments.current(task.machine.id);
      if (deployment) {
        await this.deployments.move(deployment.id, [deployment.state], 'failed', { error: `aborted by ${who}` });
        await this.#dropUpload(deployment);
      }
      await this.states.apply(task.machine, 'abort', who, `aborted by ${who}`);
      await this.#steps.powerOffQuietly(task, `${deployment?.kind ?? 'deploy'} aborted`);
    });
    return this.view(nameOrMac);
  }

  async #finishUndeploy(task: Task, machine: Machine, who: string): Promise<void> {
    try {
      await this.#steps.powerOff(task, `undeploy by ${who}`);
      await this.#parts.db.updateTable('machines').set({ image_id: null, image_name: null }).where('id', '=', machine.id).execute();
      await this.states.apply(machine, 'done', `anvil (undeploy by ${who})`);
    } catch (error) {
      await this.states.apply(machine, 'fail', 'anvil', `undeploy failed: ${(error as Error).message}`);
      throw error;
    }
  }

  async #dropUpload(deployment: Deployment): Promise<void> {
    if (deployment.upload_file) await rm(join(this.#parts.images.dir, deployment.upload_file), { force: true });
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
      args: this.#steps.agentArgs(deployment),
      label: `anvil agent (${deployment.kind} ${deployment.image_name})`,
    };
  }

  /** POST /agent/v1/hello: the agent has booted; it learns what to do. */
  /** `server`: the base URL the agent reached anvil at, for the URLs it is given. */
  async hello(token: string | undefined, message: AgentMessage, server: string): Promise<string> {
    const deployment = await this.deployments.byToken(token);
    const hello = parseHello(message);
    return this.#steps.task(await this.#steps.machineOf(deployment), `${deployment.kind}: the agent called back`, async (task) => {
      const macs = await this.#parts.machines.macsOf(task.machine.id);
      if (hello.macs.length > 0 && !hello.macs.some((m) => macs.includes(m.toLowerCase()))) {
        await this.#steps.failed(
          task,
          deployment,
          `the agent that called back has MACs ${hello.macs.join(', ')}, none of them machine '${task.machine.name}'s (${macs.join(', ')})`,
        );
        return formatAgentMessage({ action: 'stop', message: 'this agent runs on another machine than the deploy is for' });
      }
      return deployment.kind === 'capture' ? this.#capture.hello(task, deployment, hello, server) : this.#deploy.hello(task, deployment, hello, server);
    });
  }

  /** The image a deploy's agent streams (GET /agent/v1/image). */
  async imageFor(token: string | undefined, via: PeerRequest): Promise<{ stream: Readable; size: number; format: string; from?: string }> {
    const deployment = await this.deployments.byToken(token);
    const image = deployment.image_id === null ? undefined : await this.#parts.images.byId(deployment.image_id);
    if (!image || deployment.kind !== 'deploy') throw invalid('NO_IMAGE', 'this agent has no image to fetch: it is capturing');
    const content = await this.#parts.images.open(image, via);
    return { ...content, size: Number(image.stored_size), format: image.format };
  }

  /** GET /agent/v1/media/<token>/agent.iso: the agent ISO a BMC inserts as virtual media, while the deployment waits for its agent. */
  async agentMedia(token: string | undefined): Promise<{ path: string; size: number }> {
    const deployment = await this.deployments.byToken(token, ['starting', ...AGENT_STATES]);
    const path = this.#steps.mediaFile(deployment.id);
    const size =
      path === undefined
        ? undefined
        : await stat(path).then(
            (s) => s.size,
            () => undefined,
          );
    if (path === undefined || size === undefined)
      throw notFound('NO_AGENT_MEDIA', 'this deployment has no agent ISO: its machine boots the agent from the network');
    return { path, size };
  }

  /** Where BMCs fetch virtual media from: anvil serve's public URL, else the URL it listens on. */
  serveMediaFrom(baseUrl: string): void {
    this.#steps.mediaBase = baseUrl.replace(/\/+$/, '');
  }

  /** PUT /agent/v1/capture: the disk a capture's agent streams, answered with the sha256 anvil computed. */
  async captureUpload(token: string | undefined, body: Readable): Promise<string> {
    return this.#capture.upload(await this.deployments.byToken(token), body);
  }

  /** POST /agent/v1/progress: refused (403) once the deploy or capture no longer takes reports. */
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
    const summary: AgentSummary = {
      status: first(message, 'status'),
      sha256: first(message, 'sha256'),
      xxh64: first(message, 'xxh64'),
      bytes: integer(message, 'bytes'),
      sent: integer(message, 'sent'),
      phase: first(message, 'phase'),
      message: first(message, 'message'),
      seconds: { write: first(message, 'write_seconds'), verify: first(message, 'verify_seconds'), read: first(message, 'read_seconds') },
      currentimage: first(message, 'currentimage')?.slice(0, 200),
    };
    return this.#steps.task(await this.#steps.machineOf(deployment), `${deployment.kind}: the agent finished`, async (task) => {
      // Read again under the lock: an upload may have finished meanwhile.
      const current = (await this.deployments.get(deployment.id)) ?? deployment;
      return current.kind === 'capture' ? this.#capture.result(task, current, summary) : this.#deploy.result(task, current, summary);
    });
  }

  // ---- the watchdog and restarts --------------------------------------------------------

  /** Fails every deploy or capture of an owned machine past its deadline or without progress too long. Returns the machines failed. */
  async expire(): Promise<string[]> {
    const now = this.#parts.clock().getTime();
    const failed: string[] = [];
    for (const deployment of await this.deployments.unfinished()) {
      const why = this.#overdue(deployment, now);
      if (!why) continue;
      const machine = await this.#steps.machineOf(deployment).catch(() => undefined);
      // Another conductor's machine: its owner watches that deadline.
      if (!machine || !this.#owns(machine.name)) continue;
      try {
        await this.#steps.task(machine, `${deployment.kind}: overdue`, async (task) => {
          await this.#dropUpload(deployment);
          await this.#steps.failed(task, deployment, why);
        });
        failed.push(machine.name);
      } catch (error) {
        if (!(error instanceof MachineLockedError)) throw error;
      }
    }
    return failed;
  }

  /** Why a deployment is overdue, or undefined. */
  #overdue(d: Deployment, now: number): string | undefined {
    const last = d.progress_at ? `last progress: ${d.phase} at ${d.bytes_done} bytes, ${d.progress_at}` : `no progress reported (${d.state})`;
    if (deadlineOf(d, this.#defaultTimeoutS) <= now) return `the ${d.kind} did not finish within ${d.timeout_s ?? this.#defaultTimeoutS} s; ${last}`;
    const stall = d.stall_timeout_s ?? this.#stallTimeoutS;
    const moved = Date.parse(d.progress_at ?? d.updated_at);
    if (d.state !== 'finishing' && now - moved >= stall * 1000) return `the ${d.kind} made no progress for ${stall} s; ${last}`;
    return undefined;
  }

  /**
   * After a restart, or when this conductor takes over a dead one's machines: every owned
   * machine left in a transient state is resumed (its agent may still be talking, or its last
   * step is redone) or failed with the reason. `only` narrows it to some machines (those of
   * the dead conductor); `stopped` names what stopped ('anvil', or the dead conductor). A
   * machine whose lock a live operation holds is being worked on and is left alone. Returns
   * what was done.
   */
  async recover(options: { only?: (machineName: string) => boolean; stopped?: string } = {}): Promise<Array<{ machine: string; outcome: string }>> {
    const report: Array<{ machine: string; outcome: string }> = [];
    const now = this.#parts.clock().getTime();
    const stopped = options.stopped ?? 'anvil';
    const mine = (name: string) => this.#owns(name) && (options.only?.(name) ?? true);
    const stuck = (
      await this.#parts.db
        .selectFrom('machines')
        .selectAll()
        .where('provision_state', 'in', [...TRANSIENT_STATES])
        .execute()
    ).filter((m) => mine(m.name));
    const names = new Map((await this.#parts.db.selectFrom('machines').select(['id', 'name']).execute()).map((m) => [m.id, m.name]));
    const unfinished = new Map(
      (await this.deployments.unfinished()).filter((d) => names.has(d.machine_id) && mine(names.get(d.machine_id)!)).map((d) => [d.machine_id, d]),
    );
    for (const machine of stuck) {
      const deployment = unfinished.get(machine.id);
      unfinished.delete(machine.id);
      try {
        const why = stopped === 'anvil' ? 'recover after a restart' : `recover: ${stopped} stopped`;
        const outcome = await this.#steps.task(machine, why, (task) => this.#recoverOne(task, deployment, now, stopped));
        report.push({ machine: machine.name, outcome });
      } catch (error) {
        if (!(error instanceof MachineLockedError)) throw error;
        report.push({ machine: machine.name, outcome: `left alone: ${error.holder} holds it` });
      }
    }
    // A deployment whose machine left the transient states by other means is over.
    for (const deployment of unfinished.values()) {
      await this.deployments.move(deployment.id, [deployment.state], 'failed', { error: 'its machine is no longer being provisioned' });
      await this.#dropUpload(deployment);
    }
    return report;
  }

  async #recoverOne(task: Task, deployment: Deployment | undefined, now: number, stopped: string): Promise<string> {
    const machine = task.machine;
    if (machine.provision_state === 'undeploying') {
      await this.#finishUndeploy(task, machine, stopped === 'anvil' ? 'anvil (after a restart)' : `anvil (taking over from ${stopped})`);
      return 'undeploy finished';
    }
    if (!deployment) {
      await this.states.apply(
        machine,
        'fail',
        'anvil',
        `${stopped} ${stopped === 'anvil' ? 'restarted' : 'stopped'} while ${machine.provision_state}, and no deploy or capture was in progress`,
      );
      return 'failed: nothing was in progress';
    }
    const fail = async (reason: string, outcome: string) => {
      await this.#dropUpload(deployment);
      await this.#steps.failed(task, deployment, reason);
      return outcome;
    };
    if (deployment.state === 'starting')
      return fail(`${stopped} stopped while starting the ${deployment.kind}; start it again`, 'failed: stopped while starting');
    if (deployment.kind === 'capture' && deployment.state === 'reading')
      return fail(`${stopped} stopped while the capture's disk was arriving; capture again`, 'failed: its upload was cut');
    if (this.#overdue(deployment, now))
      return fail(`${stopped} was stopped and the ${deployment.kind} is overdue: ${this.#overdue(deployment, now)}`, 'failed: overdue');
    if (deployment.state === 'finishing') {
      if (deployment.kind === 'capture') await this.#capture.finish(task, deployment.id);
      else if (deployment.image_id !== null) await this.#deploy.finish(task, deployment.id, deployment.image_id, deployment.image_name);
      return 'resumed: booted from disk';
    }
    await this.#parts.events.record(
      machine.id,
      'provision',
      `${stopped === 'anvil' ? 'anvil restarted' : `${stopped} stopped; this conductor took over`}: resumed the ${deployment.kind} of ${deployment.image_name}, waiting for its agent (${deployment.state})`,
    );
    return `resumed: waiting for the agent (${deployment.state})`;
  }

  /** Waits for the finishing steps still running. */
  async stop(): Promise<void> {
    await this.#steps.stop();
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
      currentimage: d.kind === 'deploy' ? currentImageOf(d.result) : null,
    };
  }
}

export type { ProvisionEvent, ProvisionState };
