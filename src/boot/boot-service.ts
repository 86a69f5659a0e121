// The one answer to "what does this machine boot?" (pixiecore's Booter): HTTP (iPXE), TFTP
// (pxelinux, GRUB) and DHCP all ask it. It finds the machine by MAC, lists unknown ones as
// discovered, applies the once-rule and the boot log (NextBoot), renders the profile with the
// template variables, and says it in the asking loader's language. The protocol servers only
// carry the question in and the answer out.
import { notFound } from '../common/errors.ts';
import type { Machine, Machines } from '../machines/machines.ts';
import { agentIpxeScript, localBootScript, toIpxe, unknownMachineScript } from './boot-script.ts';
import type { Discovered } from './discovered.ts';
import type { NextBoot } from './next-boot.ts';
import { LOCAL_PROFILE, type Profiles } from './profiles.ts';

/** How long an unknown machine's iPXE waits before asking again. */
export const UNKNOWN_RETRY_SECONDS = 30;

/** The loaders anvil answers, as the boot log names them. */
export type Loader = 'iPXE' | 'pxelinux' | 'GRUB';

export interface BootQuestion {
  /** The machine's MAC, canonical (aa:bb:cc:dd:ee:ff). */
  readonly mac: string;
  readonly loader: Loader;
  /** What the loader said of its platform and architecture (iPXE's ${platform} ${buildarch}). */
  readonly arch?: string | undefined;
  /** The address the question came from. */
  readonly address?: string | undefined;
  /** The base URL the machine reaches anvil's HTTP server at: profiles see it as {{ server }}. */
  readonly server: string;
  /**
   * False when the MAC was not named by the machine but inferred (pxelinux's hex-IP file names,
   * resolved through the lease and ARP tables): an unknown MAC is then not listed as discovered.
   */
  readonly discover?: boolean;
}

/** What a machine boots: a rendered profile, its own disk, or nothing (unknown, listed as discovered). */
export type BootAnswer<M = Machine> =
  | {
      readonly kind: 'profile';
      /** Undefined when an unknown machine gets the default profile. */
      readonly machine: M | undefined;
      readonly profile: string;
      readonly text: string;
    }
  | { readonly kind: 'local'; readonly machine: M | undefined }
  | { readonly kind: 'agent'; readonly machine: M; readonly agent: AgentBoot }
  | { readonly kind: 'unknown'; readonly mac: string };

/** What a machine in the middle of a deploy or capture boots instead of its profile: anvil's agent. */
export interface AgentBoot {
  /** Kernel and initrd: paths in the TFTP root (or URLs). */
  readonly kernel: string;
  readonly initrd: string;
  /** Kernel arguments besides console= and anvil.server= (which the boot service adds). */
  readonly args: string;
  /** What the boot log records: never the token in the arguments. */
  readonly label: string;
}

/** Says whether a machine is to boot the agent (src/provisioning implements it). */
export interface AgentBootSource {
  agentFor(machine: Machine): Promise<AgentBoot | undefined>;
}

/** The console the agent's kernel writes to: the screen, and the serial port last (it gets /dev/console). */
export const AGENT_CONSOLE = 'console=tty0 console=ttyS0';

/** host:port of a base URL, as the agent's anvil.server= wants it. */
export function serverAddress(server: string): string {
  return server.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
}

/** The agent's kernel command line. */
export function agentArguments(agent: AgentBoot, server: string): string {
  return `${AGENT_CONSOLE} anvil.server=${serverAddress(server)} ${agent.args}`.trim();
}

/** A file machines fetch while booting (a loader, a kernel): read by position, closed once. */
export interface BootFile {
  readonly size: number | undefined;
  read(target: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
}

/** The TFTP root and the boot loaders, as the composition root wires them (a jail over the folder). */
export interface BootFiles {
  /** Where they are, for messages. */
  readonly root: string;
  /** The file at `path`, undefined when there is none; an AnvilError when the path is refused. */
  open(path: string, address: string): Promise<BootFile | undefined>;
}

/** What pxelinux is given when a machine boots its own disk and no local.prof is synced. */
const PXELINUX_LOCAL = 'DEFAULT local\nLABEL local\n  LOCALBOOT 0\n';
/** GRUB's way back to the firmware's boot order. */
const GRUB_LOCAL = 'exit\n';

/** The variables every profile is rendered with. */
export function profileVariables(
  machine: Pick<Machine, 'name'> | undefined,
  mac: string | undefined,
  profile: string,
  server: string,
): Record<string, unknown> {
  return { system: machine?.name ?? 'unknown', mac: mac ?? '', profile, server };
}

export class BootService {
  readonly #machines: Machines;
  readonly #nextBoot: NextBoot;
  readonly #discovered: Discovered;
  readonly #profiles: Profiles;
  readonly #files: BootFiles;
  readonly #agent: AgentBootSource | undefined;

  constructor(parts: { machines: Machines; nextBoot: NextBoot; discovered: Discovered; profiles: Profiles; files: BootFiles; agent?: AgentBootSource }) {
    this.#machines = parts.machines;
    this.#nextBoot = parts.nextBoot;
    this.#discovered = parts.discovered;
    this.#profiles = parts.profiles;
    this.#files = parts.files;
    this.#agent = parts.agent;
  }

  /** Answers a machine's loader: records the boot, applies the once-rule, renders the profile. */
  async answer(question: BootQuestion): Promise<BootAnswer> {
    const asker = { loader: question.loader, arch: question.arch, address: question.address };
    const machine = await this.#machines.byMac(question.mac);
    if (!machine) {
      if (question.discover === false) return { kind: 'unknown', mac: question.mac };
      await this.#discovered.record(question.mac, asker);
      // Until an operator says what unknown machines boot (nextboot default …), they are told
      // they are unknown and ask again, so enrolling one takes effect without a power cycle.
      const fallback = await this.#nextBoot.defaultChoice();
      if (!fallback.set) return { kind: 'unknown', mac: question.mac };
      return this.#rendered<Machine>(undefined, question.mac, fallback.profile, question.server);
    }
    const agent = await this.#agent?.agentFor(machine);
    if (agent) {
      await this.#nextBoot.logBoot(machine, agent.label, asker);
      return { kind: 'agent', machine, agent };
    }
    const served = await this.#nextBoot.serve(machine, asker);
    return this.#rendered(served.machine, question.mac, served.profile, question.server);
  }

  /** The pxelinux configuration a machine would get next, without serving a boot (for exported pxelinux files). */
  async pxelinuxPreview(machine: Pick<Machine, 'name' | 'next_profile'>, mac: string, server: string): Promise<string> {
    return this.#asConfig(await this.#rendered(machine, mac, machine.next_profile, server), 'pxelinux', server)!;
  }

  /** pxelinux.cfg/default: the profile of machines that cannot be told apart. */
  async defaultConfig(server: string): Promise<string> {
    const profile = await this.#nextBoot.defaultProfile();
    return this.#profiles.render(profile, profileVariables(undefined, undefined, profile, server));
  }

  async #rendered<M extends Pick<Machine, 'name'>>(machine: M | undefined, mac: string, profile: string, server: string): Promise<BootAnswer<M>> {
    if (profile === LOCAL_PROFILE && !(await this.#profiles.available()).includes(LOCAL_PROFILE)) return { kind: 'local', machine };
    return { kind: 'profile', machine, profile, text: await this.#profiles.render(profile, profileVariables(machine, mac, profile, server)) };
  }

  /** The answer as an iPXE script (and the answer itself, for the log). */
  async ipxeScript(question: Omit<BootQuestion, 'loader'>): Promise<{ answer: BootAnswer; script: string }> {
    const answer = await this.answer({ ...question, loader: 'iPXE' });
    return { answer, script: ipxeOf(answer, question.mac, question.server) };
  }

  /** The answer as a pxelinux or GRUB configuration; undefined for an unknown machine (pxelinux goes on to its next file name). */
  async loaderConfig(question: BootQuestion): Promise<string | undefined> {
    return this.#asConfig(await this.answer(question), question.loader, question.server);
  }

  #asConfig(answer: BootAnswer<unknown>, loader: Loader, server: string): string | undefined {
    switch (answer.kind) {
      case 'unknown':
        return undefined;
      case 'local':
        return loader === 'GRUB' ? GRUB_LOCAL : PXELINUX_LOCAL;
      case 'profile':
        return answer.text;
      case 'agent':
        return loader === 'GRUB'
          ? `set default=0\nset timeout=0\nmenuentry 'anvil agent' {\n  linux /${answer.agent.kernel} ${agentArguments(answer.agent, server)}\n  initrd /${answer.agent.initrd}\n}\n`
          : `DEFAULT agent\nLABEL agent\n  KERNEL ${answer.agent.kernel}\n  APPEND initrd=${answer.agent.initrd} ${agentArguments(answer.agent, server)}\n`;
    }
  }

  /** A file of the TFTP root for HTTP: a clear error when there is none. */
  async artifact(path: string, address: string): Promise<BootFile> {
    const file = await this.#files.open(path, address);
    if (!file) throw notFound('NO_SUCH_ARTIFACT', `no file '${path}' in the TFTP root ${this.#files.root}`);
    return file;
  }
}

function ipxeOf(answer: BootAnswer, mac: string, server: string): string {
  switch (answer.kind) {
    case 'unknown':
      return unknownMachineScript(answer.mac, server, UNKNOWN_RETRY_SECONDS);
    case 'local':
      return localBootScript(answer.machine?.name ?? mac);
    case 'profile':
      return toIpxe(answer.text, answer.machine?.name ?? mac, server);
    case 'agent':
      return agentIpxeScript(answer.machine.name, answer.agent, agentArguments(answer.agent, server), server);
  }
}
