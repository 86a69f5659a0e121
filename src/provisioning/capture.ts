// A capture (VCL's capture): the machine's pre-capture hook runs, the machine is powered off
// and netboots anvil's agent, which streams its disk to anvil compressed with zstd. anvil
// writes the stream as it arrives into a temporary file of the image library while
// decompressing a copy to hash it: the SHA-256 the image is kept under, and the XXH64 the agent
// computed of what it read (cheap where the agent runs, which SHA-256 is not on a slow CPU or an
// emulated one). The image appears only when the upload is whole and the agent's own checksum
// agrees (XXH64; sha256= from an agent built before it). Then the machine boots its disk again.
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { createZstdDecompress } from 'node:zlib';
import { conflict, invalid } from '../common/errors.ts';
import type { Task } from '../conductor/task.ts';
import type { Machine } from '../machines/machines.ts';
import { formatAgentMessage, type AgentHello } from './agent-protocol.ts';
import { AgentRefusedError, type Deployment } from './deployments.ts';
import { IMAGE_NAME } from './images.ts';
import { Xxh64 } from './xxh64.ts';
import { assertNotInMaintenance, checkTimeout, PROGRESS_INTERVAL_S, type AgentSummary } from './deploy.ts';
import type { ProvisionSteps } from './steps.ts';

/** VCL's capture gives up after 6 h overall… */
export const DEFAULT_CAPTURE_TIMEOUT_S = 6 * 60 * 60;

export interface CaptureRequest {
  /** The name of the image it makes. */
  readonly image: string;
  readonly timeoutS?: number | undefined;
  /** Seconds without progress before it fails (VCL: 20 min). */
  readonly stallTimeoutS?: number | undefined;
  /** The disk to read (default: the one the machine was deployed to, else its first fixed disk). */
  readonly disk?: string | undefined;
  readonly notes?: string | undefined;
}

/** Runs a machine's pre-capture hook (over SSH, on the machine), when it has one. */
export type PreCaptureHook = (machine: Machine, image: string) => Promise<string | undefined>;

interface UploadResult {
  readonly sha256: string;
  /** Absent in the record of an upload received before anvil computed it. */
  readonly xxh64?: string | undefined;
  readonly bytes: number;
  readonly stored: number;
}

export class CaptureFlow {
  readonly #steps: ProvisionSteps;
  readonly #hook: PreCaptureHook | undefined;

  constructor(steps: ProvisionSteps, hook?: PreCaptureHook) {
    this.#steps = steps;
    this.#hook = hook;
  }

  /** Starts a capture; returns once the machine is booting its agent. */
  async start(nameOrMac: string, request: CaptureRequest, who: string): Promise<void> {
    const { parts, states } = this.#steps;
    checkTimeout('capture', request.timeoutS);
    checkTimeout('capture stall', request.stallTimeoutS);
    if (!IMAGE_NAME.test(request.image))
      throw invalid('INVALID_IMAGE_NAME', `'${request.image}' is not a valid image name: up to 128 letters, digits, '.', '_' or '-'`);
    await parts.images.assertFree(request.image);
    await parts.stageAgent();
    await this.#steps.siteKey();
    await this.#steps.task(nameOrMac, `capture ${request.image} (${who})`, async (task) => {
      const machine = task.machine;
      assertNotInMaintenance(machine);
      states.check(machine, 'capture');
      const last = await parts.deployments.latest(machine.id);
      const deployment = await parts.deployments.create({
        machineId: machine.id,
        kind: 'capture',
        imageId: null,
        imageName: request.image,
        requestedBy: who,
        timeoutS: request.timeoutS ?? DEFAULT_CAPTURE_TIMEOUT_S,
        stallTimeoutS: request.stallTimeoutS,
        bytesTotal: 0,
        device: request.disk ?? (last?.kind === 'deploy' && last.state === 'done' ? (last.device ?? undefined) : undefined),
        notes: request.notes,
      });
      let state = await states.apply(machine, 'capture', who);
      try {
        const said = await this.#hook?.(machine, request.image);
        if (said !== undefined) await parts.events.record(machine.id, 'provision', `pre-capture hook: ${said}`);
        await this.#steps.powerOff(task, `capture of ${machine.name}`, true);
        await this.#steps.bootAgent(task, `capture into ${request.image}`, deployment);
        await parts.deployments.move(deployment.id, ['starting'], 'wait-callback', { phase: 'boot' });
        state = await states.apply({ ...machine, provision_state: state }, 'wait', 'anvil (the agent is booting)');
      } catch (error) {
        await this.#steps.failed(task, deployment, `capture could not start: ${(error as Error).message}`);
        throw error;
      }
    });
  }

  /** The agent called back: which disk to read, how much, and where to send it. */
  async hello(task: Task, deployment: Deployment, hello: AgentHello, server: string): Promise<string> {
    const { parts, states } = this.#steps;
    const wanted = deployment.device?.replace(/^\/dev\//, '');
    const disk = wanted ? hello.disks.find((d) => d.name === wanted) : hello.disks.find((d) => !d.removable);
    if (!disk) {
      const reason = wanted ? `the machine has no disk /dev/${wanted} to capture` : 'the agent found no disk to capture';
      await this.#steps.failed(task, deployment, reason);
      return formatAgentMessage({ action: 'stop', message: reason });
    }
    const device = `/dev/${disk.name}`;
    await parts.deployments.move(deployment.id, ['wait-callback', 'reading'], 'reading', {
      phase: 'read',
      device,
      bytes_done: 0,
      bytes_total: disk.size,
      agent_info: JSON.stringify(hello),
    });
    if (task.machine.provision_state === 'capture-wait') await states.apply(task.machine, 'callback', 'its agent');
    await parts.events.record(task.machine.id, 'provision', `agent called back; capturing ${device} (${disk.size} bytes) into ${deployment.image_name}`);
    return formatAgentMessage({ action: 'capture', device, size: disk.size, upload_url: `${server}/agent/v1/capture`, progress_interval: PROGRESS_INTERVAL_S });
  }

  /** PUT /agent/v1/capture: the zstd stream of the disk, kept and hashed as it arrives. */
  async upload(deployment: Deployment, body: Readable): Promise<string> {
    const { parts } = this.#steps;
    if (deployment.kind !== 'capture' || deployment.state !== 'reading')
      throw conflict('NOT_CAPTURING', `this agent's ${deployment.kind} is ${deployment.state}, not reading a disk`);
    if (deployment.upload_file) await rm(join(parts.images.dir, deployment.upload_file), { force: true });
    const temp = parts.images.incomingPath();
    await parts.deployments.move(deployment.id, ['reading'], 'reading', { upload_file: basename(temp) });
    let received: UploadResult;
    try {
      received = await receive(body, temp);
    } catch (error) {
      await rm(temp, { force: true });
      throw invalid('CAPTURE_UPLOAD_FAILED', `the capture upload broke off: ${(error as Error).message}`);
    }
    if (received.bytes !== Number(deployment.bytes_total)) {
      await rm(temp, { force: true });
      throw invalid('CAPTURE_UPLOAD_SHORT', `the capture upload holds ${received.bytes} bytes of disk, ${deployment.device} has ${deployment.bytes_total}`);
    }
    if (!(await parts.deployments.move(deployment.id, ['reading'], 'reading', { result: JSON.stringify({ received }) }))) {
      await rm(temp, { force: true });
      throw new AgentRefusedError('the capture ended while its upload arrived');
    }
    return formatAgentMessage({ sha256: received.sha256, xxh64: received.xxh64, bytes: received.bytes });
  }

  /** The agent is done: its checksum must agree with what arrived; then the image is in the library. */
  async result(task: Task, deployment: Deployment, summary: AgentSummary): Promise<string> {
    const { parts } = this.#steps;
    const received = (JSON.parse(deployment.result) as { received?: UploadResult }).received;
    const temp = deployment.upload_file ? join(parts.images.dir, deployment.upload_file) : undefined;
    const fail = async (reason: string) => {
      if (temp) await rm(temp, { force: true });
      await this.#steps.failed(task, deployment, reason);
      return formatAgentMessage({ action: 'poweroff' });
    };
    if (summary.status !== 'ok')
      return fail(`the agent failed${summary.phase ? ` in ${summary.phase}` : ''}: ${summary.message?.slice(0, 500) || 'no reason given'}`);
    if (!received || !temp) return fail('the agent reported success but no upload arrived');
    // The agent's XXH64 when it sent one (anvil's own record of the upload may predate it), else its sha256.
    const [kind, theirs, ours] = summary.xxh64 !== undefined ? ['xxh64', summary.xxh64, received.xxh64] : ['sha256', summary.sha256, received.sha256];
    if (theirs === undefined) return fail('the agent reported no checksum of what it read (neither xxh64= nor sha256=)');
    if (theirs !== ours) return fail(`checksum mismatch: the agent read ${kind} ${theirs} from ${deployment.device}, anvil received ${ours ?? '(no xxh64)'}`);
    const image = await parts.images.adopt(
      temp,
      { name: deployment.image_name, format: 'zstd', virtualSize: received.bytes, sha256: received.sha256 },
      { origin: 'capture', sourceMachine: task.machine.name, notes: deployment.notes },
    );
    const row = await parts.images.get(image.name);
    const read = summary.seconds.read ? ` in ${summary.seconds.read} s` : '';
    await parts.events.record(
      task.machine.id,
      'provision',
      `captured ${deployment.device} into ${image.name}: ${received.bytes} bytes read${read}, ${received.stored} bytes zstd on the wire; the agent's ${kind} agreed`,
    );
    await parts.deployments.move(deployment.id, ['reading', 'verifying'], 'finishing', {
      phase: 'boot from disk',
      result: JSON.stringify({ received, agent: summary }),
      upload_file: null,
    });
    await parts.db.updateTable('deployments').set({ image_id: row.id }).where('id', '=', deployment.id).execute();
    if (!this.#steps.controllable(task)) {
      await this.finish(task, deployment.id);
      return formatAgentMessage({ action: 'reboot' });
    }
    this.#steps.later(task.machine, deployment.id, `capture: boot ${task.machine.name} from its disk`, (t) => this.finish(t, deployment.id));
    return formatAgentMessage({ action: 'wait' });
  }

  /** The image is in the library: the machine boots its disk again and is active. */
  async finish(task: Task, deploymentId: number): Promise<void> {
    const { parts, states } = this.#steps;
    await this.#steps.bootFromDisk(task, 'capture finished', deploymentId);
    await parts.deployments.move(deploymentId, ['finishing'], 'done', { phase: 'done' });
    await states.apply(task.machine, 'done', 'anvil (capture finished)');
  }
}

/** Writes the upload to `path` as it arrives while decompressing a copy to hash the disk content (SHA-256 and XXH64). */
async function receive(body: Readable, path: string): Promise<UploadResult> {
  const toFile = new PassThrough({ highWaterMark: 1024 * 1024 });
  const toHash = new PassThrough({ highWaterMark: 1024 * 1024 });
  body.on('error', (error) => {
    toFile.destroy(error);
    toHash.destroy(error);
  });
  body.on('aborted', () => body.destroy(new Error('the agent closed the connection before the end')));
  body.pipe(toFile);
  body.pipe(toHash);
  const hash = createHash('sha256');
  const sum = await Xxh64.create();
  let bytes = 0;
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      sum.update(chunk);
      bytes += chunk.length;
      callback();
    },
  });
  await Promise.all([pipeline(toFile, createWriteStream(path, { mode: 0o640 })), pipeline(toHash, createZstdDecompress(), sink)]);
  return { sha256: hash.digest('hex'), xxh64: sum.hex(), bytes, stored: (await stat(path)).size };
}
