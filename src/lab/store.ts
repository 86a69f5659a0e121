// Where the lab keeps its VMs: one JSON file per VM under <data>/lab/vms/ (mode 0600: it holds
// the emulated BMC's password), a run directory per VM for QEMU's sockets, pid file and log,
// and disk images under <data>/lab/disks/.
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { conflict, notFound } from '../common/errors.ts';
import {
  checkName,
  checkSocketPath,
  DEFAULT_DISK_SIZE,
  DEFAULT_MEMORY_MB,
  DEFAULT_NETDEV,
  definitionToJson,
  hasAmt,
  hasIpmi,
  hasRedfish,
  normalizeMac,
  parseDefinition,
} from './definition.ts';
import type { LabBmcDefinition, LabBootSetting, LabVmDefinition } from './definition.ts';
import { ANVIL_NETDEV, anvilNetdev } from './guest-network.ts';

/** A controller as a caller gives it: the Redfish port may be left to its default. */
export type LabBmcInput = Omit<LabBmcDefinition, 'redfishPort'> & { readonly redfishPort?: number };

/** What a caller gives to create a VM; everything else has a default. */
export interface LabVmInput {
  readonly name: string;
  readonly mac: string;
  readonly memoryMb?: number;
  /** A disk of this size (qemu-img syntax), or null for none. Default DEFAULT_DISK_SIZE. */
  readonly diskSize?: string | null;
  readonly diskFormat?: 'qcow2' | 'raw';
  readonly cdrom?: string;
  readonly netdev?: string;
  /** Forward the host's 127.0.0.1:sshPort to the guest's port 22 (a user network only). */
  readonly sshPort?: number;
  readonly boot?: LabBootSetting;
  readonly extraArgs?: readonly string[];
  readonly launcher?: readonly string[];
  readonly bmc?: LabBmcInput;
}

/** Files the lab writes hold a BMC password: owner only. */
const PRIVATE_FILE_MODE = 0o600;
const PRIVATE_DIR_MODE = 0o700;

/** The address:port two VMs' controllers would both listen on, if any (port 0 means "any free port"). */
function sharedEndpoint(a: LabVmDefinition, b: LabVmDefinition): string | undefined {
  if (!a.bmc || !b.bmc || a.bmc.address !== b.bmc.address) return undefined;
  const ports = (d: LabVmDefinition): { udp: number[]; tcp: { port: number; what: string }[] } => {
    const bmc = d.bmc!;
    return {
      udp: hasIpmi(bmc.kind) ? [bmc.ipmiPort] : [],
      tcp: [...(hasAmt(bmc.kind) ? [{ port: bmc.amtPort, what: 'AMT' }] : []), ...(hasRedfish(bmc.kind) ? [{ port: bmc.redfishPort, what: 'Redfish' }] : [])],
    };
  };
  const pa = ports(a);
  const pb = ports(b);
  const udp = pa.udp.find((p) => p !== 0 && pb.udp.includes(p));
  if (udp !== undefined) return `${a.bmc.address}:${udp} (IPMI)`;
  const tcp = pa.tcp.find((p) => p.port !== 0 && pb.tcp.some((q) => q.port === p.port));
  return tcp === undefined ? undefined : `${a.bmc.address}:${tcp.port} (${tcp.what})`;
}

export class LabStore {
  /** <data>/lab */
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(resolve(dataDir), 'lab');
  }

  get vmsDir(): string {
    return join(this.root, 'vms');
  }

  get runRoot(): string {
    return join(this.root, 'run');
  }

  /** The Redfish BMCs' certificate authority and server certificate (redfish-tls.ts). */
  get tlsDir(): string {
    return join(this.root, 'redfish-tls');
  }

  /** Images the Redfish BMCs' virtual media downloaded, one <vm>.iso each. */
  get mediaDir(): string {
    return join(this.root, 'media');
  }

  /** Sockets, pid file and QEMU's log of one VM. */
  runDir(name: string): string {
    return join(this.runRoot, checkName(name));
  }

  pidFile(name: string): string {
    return join(this.runDir(name), 'qemu.pid');
  }

  logFile(name: string): string {
    return join(this.runDir(name), 'qemu.log');
  }

  /** Where `lab up` shares the VM's serial console (QEMU serves its own socket to one client). */
  consoleSocket(name: string): string {
    return checkSocketPath(join(this.runDir(name), 'console.sock'));
  }

  #file(name: string): string {
    return join(this.vmsDir, `${checkName(name)}.json`);
  }

  /** A complete definition from the caller's input, with the lab's default paths. Does not save it. */
  define(input: LabVmInput): LabVmDefinition {
    const name = checkName(input.name);
    const run = this.runDir(name);
    const format = input.diskFormat ?? 'qcow2';
    const diskSize = input.diskSize === undefined ? DEFAULT_DISK_SIZE : input.diskSize;
    return parseDefinition({
      name,
      mac: normalizeMac(input.mac),
      memoryMb: input.memoryMb ?? DEFAULT_MEMORY_MB,
      disk: diskSize === null ? undefined : { path: join(this.disksDir, `${name}.${format}`), size: diskSize, format },
      cdrom: input.cdrom,
      // `anvil`: the VM's one way out is the anvil that serves this data directory (guest-network.ts).
      netdev: input.netdev === ANVIL_NETDEV ? anvilNetdev({ data: dirname(this.root) }, normalizeMac(input.mac)) : (input.netdev ?? DEFAULT_NETDEV),
      sshPort: input.sshPort,
      serialSocket: checkSocketPath(join(run, 'serial.sock')),
      qmpSocket: checkSocketPath(join(run, 'qmp.sock')),
      controlSocket: checkSocketPath(join(run, 'qmp-ctl.sock')),
      boot: input.boot ?? { device: 'pxe', efi: false },
      extraArgs: input.extraArgs ?? [],
      launcher: input.launcher ?? [],
      bmc: input.bmc,
    });
  }

  /** Defines and saves a new VM; a name or MAC already in the lab is a conflict. */
  async create(input: LabVmInput): Promise<LabVmDefinition> {
    const def = this.define(input);
    for (const other of await this.list()) {
      if (other.name === def.name) throw conflict('LAB_EXISTS', `lab VM ${def.name} already exists; delete it first or pick another name`);
      if (other.mac === def.mac) throw conflict('LAB_EXISTS', `MAC ${def.mac} is already used by lab VM ${other.name}`);
      if (def.sshPort !== undefined && other.sshPort === def.sshPort)
        throw conflict('LAB_EXISTS', `127.0.0.1:${def.sshPort} already forwards to lab VM ${other.name}'s SSH; give each VM its own --ssh-port`);
      const taken = sharedEndpoint(def, other);
      if (taken)
        throw conflict('LAB_EXISTS', `${taken} is already the controller of lab VM ${other.name}; give each VM its own --bmc-port/--amt-port/--redfish-port`);
    }
    await this.save(def);
    return def;
  }

  async load(name: string): Promise<LabVmDefinition> {
    let text: string;
    try {
      text = await readFile(this.#file(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw notFound('LAB_NOT_FOUND', `no lab VM named ${name} in ${this.vmsDir}; 'anvil lab vm list' shows them`);
      throw error;
    }
    return parseDefinition(JSON.parse(text));
  }

  async exists(name: string): Promise<boolean> {
    try {
      await this.load(name);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === 'LAB_NOT_FOUND') return false;
      throw error;
    }
  }

  /** Writes the definition atomically (temp file and rename), readable by its owner only. */
  async save(def: LabVmDefinition): Promise<void> {
    await mkdir(this.vmsDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const file = this.#file(def.name);
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, definitionToJson(def), { mode: PRIVATE_FILE_MODE });
    // writeFile's mode applies only when it creates the file; a leftover temp file keeps its own.
    await chmod(temp, PRIVATE_FILE_MODE);
    await rename(temp, file);
  }

  /** Every defined VM, by name. A file that does not parse is skipped (and reported to onBadFile). */
  async list(onBadFile?: (file: string, error: unknown) => void): Promise<LabVmDefinition[]> {
    let files: string[];
    try {
      files = await readdir(this.vmsDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const defs: LabVmDefinition[] = [];
    for (const file of files.filter((f) => f.endsWith('.json')).sort()) {
      try {
        defs.push(parseDefinition(JSON.parse(await readFile(join(this.vmsDir, file), 'utf8'))));
      } catch (error) {
        onBadFile?.(file, error);
      }
    }
    return defs;
  }

  /** Names that have a run directory: VMs that ran, including ones whose definition was deleted since. */
  async runNames(): Promise<string[]> {
    try {
      return (await readdir(this.runRoot)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  get disksDir(): string {
    return join(this.root, 'disks');
  }

  /** Removes the definition, its run directory and (unless keepDisk) its disk. The caller stops QEMU first. */
  async delete(name: string, options: { keepDisk?: boolean } = {}): Promise<void> {
    const def = await this.load(name);
    await rm(this.#file(name), { force: true });
    await rm(this.runDir(name), { recursive: true, force: true });
    await rm(join(this.mediaDir, `${checkName(name)}.iso`), { force: true });
    // A disk someone pointed elsewhere (an edited definition) is theirs: only the lab's own are removed.
    if (def.disk && !options.keepDisk && def.disk.path.startsWith(this.disksDir + sep)) await rm(def.disk.path, { force: true });
  }
}
