// Apache VCL's provisioning-module interface by its own names (seed 003): node_status, load,
// capture, power_on, power_off, power_reset, get_current_image, get_image_size. A VCL site's
// provisioning module can be a thin wrapper around these (examples/vcl/). node_status answers
// as the xCAT module did — status READY or RELOAD (POST_LOAD as VCL's newer Provisioning.pm
// when asked to check post-load) with ping, ssh, rpower, nodeset, nodetype, currentimage — and
// names every reason for RELOAD.
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Machine, Machines } from '../machines/machines.ts';
import type { MachineControl } from '../conductor/machine-control.ts';
import type { ImageLibrary } from './images.ts';
import type { Provisioner, ProvisionView } from './provisioner.ts';
import type { SiteSsh } from './ssh.ts';
import { TRANSIENT_STATES } from './states.ts';

const run = promisify(execFile);

/** VCL's power habit (xCAT.pm): a few tries with a random back-off, then a wait for the state. */
export const POWER_TRIES = 3;
export const POWER_STATE_WAIT_MS = 60_000;
/** How often a waiting load or capture reads the machine's state. */
export const FOLLOW_INTERVAL_MS = 1000;

export type NodeState = 'READY' | 'RELOAD' | 'POST_LOAD';

export interface NodeStatus {
  readonly status: NodeState;
  readonly ping: 0 | 1;
  /** How ping was checked: icmp, or tcp (to the SSH port) and why. */
  readonly pingMethod: string;
  readonly ssh: 0 | 1;
  readonly rpower: 0 | 1;
  /** What the machine boots next: boot (its disk), install (a network profile), deploy, image (a capture). */
  readonly nodeset: string;
  /** The image anvil last deployed (VCL's nodetype). */
  readonly nodetype: string | null;
  /** The first line of currentimage.txt on the machine. */
  readonly currentimage: string | null;
  /** Every reason the status is not READY. */
  readonly reasons: string[];
  /** currentimage.txt's key=value lines. */
  readonly currentimageInfo: Record<string, string>;
}

/** currentimage.txt: line 1 the image name, then key=value lines (VCL's OS.pm). */
export function parseCurrentImage(text: string): { name: string | null; info: Record<string, string> } {
  const lines = text.split('\n').map((l) => l.trim());
  const name = lines[0] || null;
  const info: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const eq = line.indexOf('=');
    if (eq > 0) info[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { name, info };
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

export class Vcl {
  readonly #machines: Machines;
  readonly #control: MachineControl;
  readonly #provisioner: Provisioner;
  readonly #images: ImageLibrary;
  readonly #ssh: SiteSsh;

  constructor(parts: { machines: Machines; control: MachineControl; provisioner: Provisioner; images: ImageLibrary; ssh: SiteSsh }) {
    this.#machines = parts.machines;
    this.#control = parts.control;
    this.#provisioner = parts.provisioner;
    this.#images = parts.images;
    this.#ssh = parts.ssh;
  }

  async nodeStatus(nameOrMac: string, options: { postLoad?: boolean } = {}): Promise<NodeStatus> {
    const machine = await this.#machines.find(nameOrMac);
    const reasons: string[] = [];
    const [power, reach, remote] = await Promise.all([this.#rpower(machine), this.#ping(machine), this.#currentImageFile(machine)]);
    if (power !== 'on') reasons.push(`rpower: the power is ${power}`);
    if (!reach.ok) reasons.push(`ping: no answer (${reach.method})`);
    if (!remote.connected) reasons.push(`ssh: ${remote.problem}`);
    const current = remote.connected ? parseCurrentImage(remote.text) : { name: null, info: {} };
    const nodetype = machine.image_name;
    if (remote.connected && current.name === null) reasons.push(`currentimage: no currentimage.txt in ${this.#ssh.target(machine)?.home ?? 'the login home'}`);
    else if (remote.connected && nodetype && current.name !== nodetype)
      reasons.push(`currentimage: the machine runs ${current.name}, anvil deployed ${nodetype}`);
    if (!nodetype) reasons.push('nodetype: anvil deployed no image to this machine');
    if (current.info.vcld_tainted?.startsWith('true')) reasons.push('currentimage: tainted (vcld_tainted)');
    let status: NodeState = reasons.length > 0 ? 'RELOAD' : 'READY';
    if (status === 'READY' && options.postLoad && !('vcld_post_load' in current.info)) {
      status = 'POST_LOAD';
      reasons.push('post-load: currentimage.txt has no vcld_post_load tag yet');
    }
    return {
      status,
      ping: reach.ok ? 1 : 0,
      pingMethod: reach.method,
      ssh: remote.connected ? 1 : 0,
      rpower: power === 'on' ? 1 : 0,
      nodeset: this.#nodeset(machine),
      nodetype,
      currentimage: current.name,
      reasons,
      currentimageInfo: current.info,
    };
  }

  #nodeset(machine: Machine): string {
    if (['deploying', 'wait-callback'].includes(machine.provision_state)) return 'deploy';
    if (['capturing', 'capture-wait'].includes(machine.provision_state)) return 'image';
    return machine.next_profile === 'local' ? 'boot' : 'install';
  }

  async #rpower(machine: Machine): Promise<string> {
    try {
      return (await this.#control.powerState(machine.name)).powerState;
    } catch (error) {
      return `unknown (${(error as Error).message})`;
    }
  }

  /** ICMP with the system's ping where that means something; else a TCP connection to the SSH port. */
  async #ping(machine: Machine): Promise<{ ok: boolean; method: string }> {
    const target = this.#ssh.target(machine);
    if (!target) return { ok: false, method: 'no address: anvil machine set NAME --property address=HOST' };
    if (LOOPBACK.test(target.address))
      return { ok: await tcpAnswers(target.address, target.port), method: `tcp to port ${target.port} (the address is this host: a port forward)` };
    try {
      await run('ping', ['-c', '1', '-W', '2', '-n', target.address]);
      return { ok: true, method: 'icmp' };
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT' || /permission|not permitted/i.test(e.stderr ?? '')) {
        return {
          ok: await tcpAnswers(target.address, target.port),
          method: `tcp to port ${target.port} (${e.code === 'ENOENT' ? 'no ping command' : 'no privilege for ICMP'})`,
        };
      }
      return { ok: false, method: 'icmp' };
    }
  }

  async #currentImageFile(machine: Machine): Promise<{ connected: boolean; text: string; problem: string }> {
    const target = this.#ssh.target(machine);
    const result = await this.#ssh.exec(machine, `cat ${target?.home ?? '~'}/currentimage.txt 2>/dev/null; true`, { timeoutMs: 20_000 });
    return { connected: result.connected, text: result.stdout, problem: result.problem ?? 'no answer' };
  }

  /** get_current_image: the first line of the machine's currentimage.txt, over SSH. */
  async getCurrentImage(nameOrMac: string): Promise<string | null> {
    const machine = await this.#machines.find(nameOrMac);
    const file = await this.#currentImageFile(machine);
    return file.connected ? parseCurrentImage(file.text).name : null;
  }

  /** get_image_size: the image's disk usage in the library, in bytes (VCL's MB is bytes / 1 MiB). */
  async getImageSize(image: string): Promise<number> {
    return (await this.#images.show(image)).diskUsage;
  }

  /** power_on / power_off: tries with a random back-off, each waiting for the state. */
  async power(nameOrMac: string, target: 'on' | 'off', who: string): Promise<string> {
    let last: unknown;
    for (let attempt = 1; attempt <= POWER_TRIES; attempt++) {
      try {
        return (await this.#control.setPower(nameOrMac, target, { timeoutMs: POWER_STATE_WAIT_MS }, `${who} (VCL power_${target}, try ${attempt})`)).powerState;
      } catch (error) {
        last = error;
        if (attempt < POWER_TRIES) await sleep(500 + Math.floor(Math.random() * 1500));
      }
    }
    throw last;
  }

  /** power_reset: off, then on (xCAT.pm's power_reset). */
  async powerReset(nameOrMac: string, who: string): Promise<string> {
    await this.power(nameOrMac, 'off', who);
    return this.power(nameOrMac, 'on', who);
  }

  /** load: deploys the image and waits for the end, as VCL's new.pm does. True when the machine is active with it. */
  async load(nameOrMac: string, image: string, who: string, signal?: AbortSignal): Promise<ProvisionView> {
    const started = await this.#provisioner.deploy(nameOrMac, { image }, who);
    return this.waitForEnd(started.name, signal);
  }

  /** capture: saves the machine's disk as `image` and waits for the whole capture, as VCL requires. */
  async capture(nameOrMac: string, image: string, who: string, signal?: AbortSignal): Promise<ProvisionView> {
    const started = await this.#provisioner.capture(nameOrMac, { image }, who);
    return this.waitForEnd(started.name, signal);
  }

  /** Follows a deploy or capture until the machine leaves the transient states. */
  async waitForEnd(name: string, signal?: AbortSignal, onProgress?: (view: ProvisionView) => void): Promise<ProvisionView> {
    for (;;) {
      const view = await this.#provisioner.view(name);
      if (!(TRANSIENT_STATES as readonly string[]).includes(view.provisionState)) return view;
      onProgress?.(view);
      await sleep(FOLLOW_INTERVAL_MS, undefined, signal ? { signal } : undefined);
    }
  }
}

function tcpAnswers(host: string, port: number, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
