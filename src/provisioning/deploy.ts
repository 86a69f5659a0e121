// A deploy (VCL's load): the machine netboots anvil's agent; the agent calls back, streams the
// image to the disk anvil chose, reads it back and reports the sha256; anvil compares it with
// the image's, then the machine boots its disk and is active with the image recorded.
import { AnvilError, invalid } from '../common/errors.ts';
import type { Task } from '../conductor/task.ts';
import type { Machine } from '../machines/machines.ts';
import { PROPERTY_DEFAULTS } from '../machines/properties.ts';
import type { Image } from './images.ts';
import { chooseDisk, formatAgentMessage, type AgentHello } from './agent-protocol.ts';
import type { Deployment } from './deployments.ts';
import type { ProvisionSteps } from './steps.ts';

/** Seconds between an agent's progress reports. */
export const PROGRESS_INTERVAL_S = 2;

export interface DeployRequest {
  readonly image: string;
  /** Seconds; default the machine's, then the server's. */
  readonly timeoutS?: number | undefined;
  /** The disk to write (vda or /dev/vda); default the smallest the image fits. */
  readonly disk?: string | undefined;
}

/** What the agent reported when it was done. */
export interface AgentSummary {
  readonly status: string | undefined;
  readonly sha256: string | undefined;
  /** A capture's checksum of what the agent read (XXH64, 16 hex digits). */
  readonly xxh64: string | undefined;
  readonly bytes: number | undefined;
  /** A capture's compressed bytes on the wire. */
  readonly sent: number | undefined;
  readonly phase: string | undefined;
  readonly message: string | undefined;
  readonly seconds: Readonly<Record<string, string | undefined>>;
  /** Whether the agent wrote currentimage.txt into the deployed system: 'written /dev/vda1 vfat', 'skipped …'. */
  readonly currentimage: string | undefined;
}

/** currentimage.txt as VCL's OS.pm writes it: the image name, then key=value lines; one `currentimage=` answer line each. */
export function currentImageLines(image: Image, machine: Machine, deployment: Deployment): string {
  const lines = [
    image.name,
    `id=${image.id}`,
    `prettyname=${image.name}`,
    `sha256=${image.sha256}`,
    `imagerevision_id=${deployment.id}`,
    `imagerevision_datecreated=${image.created_at}`,
    `computer_id=${machine.id}`,
    `computer_hostname=${machine.name}`,
  ];
  return lines.map((line) => `currentimage=${line}\n`).join('');
}

export function checkTimeout(what: string, seconds: number | undefined): void {
  if (seconds !== undefined && !(Number.isInteger(seconds) && seconds > 0))
    throw invalid('INVALID_TIMEOUT', `the ${what} timeout must be a whole number of seconds above 0, not ${seconds}`);
}

export function assertNotInMaintenance(machine: Machine): void {
  if (machine.maintenance === 1) {
    throw new AnvilError(
      'MACHINE_IN_MAINTENANCE',
      'conflict',
      `machine '${machine.name}' is in maintenance (${machine.maintenance_reason ?? 'no reason given'}); take it out first`,
    );
  }
}

export class DeployFlow {
  readonly #steps: ProvisionSteps;

  constructor(steps: ProvisionSteps) {
    this.#steps = steps;
  }

  /** Starts a deploy: the machine boots its agent. Returns once it is waiting for the agent. */
  async start(nameOrMac: string, request: DeployRequest, who: string): Promise<void> {
    const { parts, states } = this.#steps;
    checkTimeout('deploy', request.timeoutS);
    if (!request.image) throw invalid('IMAGE_REQUIRED', 'a deploy needs an image: name one of the library (anvil image list)');
    const image = await parts.images.get(request.image);
    await parts.stageAgent();
    await this.#steps.siteKey();
    await this.#steps.task(nameOrMac, `deploy ${image.name} (${who})`, async (task) => {
      const machine = task.machine;
      assertNotInMaintenance(machine);
      states.check(machine, 'deploy');
      const deployment = await parts.deployments.create({
        machineId: machine.id,
        kind: 'deploy',
        imageId: image.id,
        imageName: image.name,
        requestedBy: who,
        timeoutS: request.timeoutS ?? machine.deploy_timeout_s,
        bytesTotal: Number(image.virtual_size),
        device: request.disk,
      });
      const state = await states.apply(machine, 'deploy', who);
      try {
        await this.#steps.bootAgent(task, `deploy of ${image.name}`, deployment);
        await parts.deployments.move(deployment.id, ['starting'], 'wait-callback', { phase: 'boot' });
        await states.apply({ ...machine, provision_state: state }, 'wait', 'anvil (the agent is booting)');
      } catch (error) {
        await this.#steps.failed(task, deployment, `could not boot the agent: ${(error as Error).message}`);
        throw error;
      }
    });
  }

  /** The agent called back: the disk it is to write, and the image. */
  async hello(task: Task, deployment: Deployment, hello: AgentHello, server: string): Promise<string> {
    const { parts, states } = this.#steps;
    const image = deployment.image_id === null ? undefined : await parts.images.byId(deployment.image_id);
    if (!image) {
      await this.#steps.failed(task, deployment, `image '${deployment.image_name}' is no longer in the library`);
      return formatAgentMessage({ action: 'stop', message: `image ${deployment.image_name} is gone` });
    }
    const choice = chooseDisk(hello.disks, Number(image.virtual_size), deployment.device ?? undefined);
    if ('reason' in choice) {
      await this.#steps.failed(task, deployment, choice.reason);
      return formatAgentMessage({ action: 'stop', message: choice.reason });
    }
    const device = `/dev/${choice.disk.name}`;
    await parts.deployments.move(deployment.id, ['wait-callback', 'writing', 'verifying'], 'writing', {
      phase: 'write',
      device,
      bytes_done: 0,
      agent_info: JSON.stringify(hello),
    });
    if (task.machine.provision_state === 'wait-callback') await states.apply(task.machine, 'callback', 'its agent');
    await parts.events.record(task.machine.id, 'provision', `agent called back (kernel ${hello.kernel ?? '?'}); writing ${image.name} to ${device}`);
    const key = parts.ssh.publicKey();
    const home = parts.ssh.target(task.machine)?.home ?? PROPERTY_DEFAULTS.login_home;
    return (
      formatAgentMessage({
        action: 'deploy',
        device,
        image_url: `${server}/agent/v1/image`,
        format: image.format,
        size: Number(image.virtual_size),
        sha256: image.sha256,
        progress_interval: PROGRESS_INTERVAL_S,
        login_home: home,
        ...(key ? { authorized_key: key } : {}),
      }) + currentImageLines(image, task.machine, deployment)
    );
  }

  /** The agent is done: on a matching checksum the machine boots its disk, else the deploy fails. */
  async result(task: Task, deployment: Deployment, summary: AgentSummary): Promise<string> {
    const { parts } = this.#steps;
    if (summary.status !== 'ok') {
      await this.#steps.failed(
        task,
        deployment,
        `the agent failed${summary.phase ? ` in ${summary.phase}` : ''}: ${summary.message?.slice(0, 500) || 'no reason given'}`,
      );
      return formatAgentMessage({ action: 'poweroff' });
    }
    const image = deployment.image_id === null ? undefined : await parts.images.byId(deployment.image_id);
    if (!image || summary.sha256 !== image.sha256) {
      await this.#steps.failed(
        task,
        deployment,
        `checksum mismatch: the agent read back sha256 ${summary.sha256 ?? '(none)'} from ${deployment.device}, image ${deployment.image_name} has ${image?.sha256 ?? '(gone)'}`,
      );
      return formatAgentMessage({ action: 'poweroff' });
    }
    await parts.deployments.move(deployment.id, ['writing', 'verifying'], 'finishing', {
      phase: 'boot from disk',
      result: JSON.stringify(summary),
      bytes_done: summary.bytes ?? 0,
    });
    await parts.events.record(task.machine.id, 'provision', `currentimage.txt: ${summary.currentimage ?? 'the agent did not say (an older agent)'}`);
    if (!this.#steps.controllable(task)) {
      // No controller to power-cycle it: the machine reboots itself into its local boot.
      await this.finish(task, deployment.id, image.id, image.name);
      return formatAgentMessage({ action: 'reboot' });
    }
    this.#steps.later(task.machine, deployment.id, `deploy: boot ${task.machine.name} from its disk`, (t) =>
      this.finish(t, deployment.id, image.id, image.name),
    );
    return formatAgentMessage({ action: 'wait' });
  }

  /** The deploy is written and verified: boot from disk from now on, power-cycle, active. */
  async finish(task: Task, deploymentId: number, imageId: number, imageName: string): Promise<void> {
    const { parts, states } = this.#steps;
    await this.#steps.bootFromDisk(task, `deploy of ${imageName} finished`, deploymentId);
    await parts.db.updateTable('machines').set({ image_id: imageId, image_name: imageName }).where('id', '=', task.machine.id).execute();
    await parts.deployments.move(deploymentId, ['finishing'], 'done', { phase: 'done' });
    await states.apply(task.machine, 'done', 'anvil (deploy finished)');
  }
}
