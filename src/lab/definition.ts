// What a lab VM is: its hardware (MAC, memory, disk), how its QEMU is reached (sockets), its
// boot devices (persistent and one-time, as a BMC keeps them), and the emulated controller in
// front of it. Parsing and defaults only: no files, no processes.
import { AnvilError, invalid } from '../common/errors.ts';

export const LAB_BOOT_DEVICES = ['pxe', 'disk', 'cdrom', 'bios', 'http'] as const;
/**
 * Where the VM boots from; `bios` stops in the firmware's boot menu (SeaBIOS has no setup
 * screen); `http` is UEFI HTTP boot (OVMF with its PXE client off), so always UEFI mode.
 */
export type LabBootDevice = (typeof LAB_BOOT_DEVICES)[number];

export interface LabBootSetting {
  readonly device: LabBootDevice;
  /** Boot in UEFI mode (needs OVMF installed); false is legacy BIOS (SeaBIOS). */
  readonly efi: boolean;
}

/** A boot setting; UEFI HTTP boot exists in UEFI mode only, whatever `efi` says. */
export function labBootSetting(device: LabBootDevice, efi: boolean): LabBootSetting {
  return { device, efi: efi || device === 'http' };
}

/** The controllers a lab VM can have in front of it: an IPMI BMC, an AMT, both of those, or a Redfish BMC. */
export const LAB_BMC_KINDS = ['ipmi', 'amt', 'both', 'redfish'] as const;
export type LabBmcKind = (typeof LAB_BMC_KINDS)[number];

/** Whether a controller of this kind answers IPMI (UDP ipmiPort). */
export const hasIpmi = (kind: LabBmcKind): boolean => kind === 'ipmi' || kind === 'both';
/** Whether a controller of this kind answers AMT (TCP amtPort). */
export const hasAmt = (kind: LabBmcKind): boolean => kind === 'amt' || kind === 'both';
/** Whether a controller of this kind answers Redfish (HTTPS on TCP redfishPort). */
export const hasRedfish = (kind: LabBmcKind): boolean => kind === 'redfish';

/** The emulated controller in front of the VM. The password is stored in a 0600 file, never put on a command line. */
export interface LabBmcDefinition {
  readonly kind: LabBmcKind;
  readonly address: string;
  /** UDP port of the IPMI BMC (RMCP). */
  readonly ipmiPort: number;
  /** TCP port of the AMT (16992 on real machines). */
  readonly amtPort: number;
  /** TCP port of the Redfish BMC's HTTPS (443 on real machines). */
  readonly redfishPort: number;
  readonly user: string;
  readonly password: string;
}

export interface LabDiskDefinition {
  readonly path: string;
  /** A qemu-img size: 8G, 512M, ... */
  readonly size: string;
  readonly format: 'qcow2' | 'raw';
}

export interface LabVmDefinition {
  readonly name: string;
  /** The NIC's MAC, lower case with colons. */
  readonly mac: string;
  readonly memoryMb: number;
  /** No disk at all when undefined: a diskless machine that only network-boots. */
  readonly disk: LabDiskDefinition | undefined;
  /** An ISO image attached as the CD-ROM, for the cdrom boot device. */
  readonly cdrom: string | undefined;
  /**
   * QEMU's -netdev backend without its id: `user,restrict=on` (default), `tap,ifname=tap0,script=no,downscript=no`,
   * `user,restrict=on,tftp=DIR,bootfile=URL`, ... or `none` for no NIC at all.
   */
  readonly netdev: string;
  /** A user network's forward of the host's 127.0.0.1:sshPort to the guest's port 22 (slirp hostfwd). */
  readonly sshPort: number | undefined;
  readonly serialSocket: string;
  readonly qmpSocket: string;
  /** A second QMP socket for one-shot commands from other processes (QEMU serves one client per socket). */
  readonly controlSocket: string;
  /** The persistent boot device ("boot order"). */
  readonly boot: LabBootSetting;
  /** A one-time boot device, used by the next power-on (or reset) only. */
  readonly nextBoot: LabBootSetting | undefined;
  /** More QEMU arguments (e.g. -kernel/-initrd/-append for a test guest). Never a secret. */
  readonly extraArgs: readonly string[];
  /** Words put before the QEMU command, e.g. ['ip', 'netns', 'exec', 'lab0'] to run it in a namespace. */
  readonly launcher: readonly string[];
  readonly bmc: LabBmcDefinition | undefined;
}

export const DEFAULT_MEMORY_MB = 512;
export const DEFAULT_DISK_SIZE = '8G';
export const DEFAULT_NETDEV = 'user,restrict=on';
export const DEFAULT_BMC_ADDRESS = '127.0.0.1';
/** VirtualBMC's defaults (vbmc add): admin / password. */
export const DEFAULT_BMC_USER = 'admin';
export const DEFAULT_BMC_PASSWORD = 'password';
export const DEFAULT_IPMI_PORT = 623;
export const DEFAULT_AMT_PORT = 16992;
/** `anvil bmc redfish`'s default too: a port that needs no root. */
export const DEFAULT_REDFISH_PORT = 8443;
/** Linux's sun_path holds 108 bytes including the terminating NUL. */
export const MAX_UNIX_SOCKET_PATH = 107;
export const MIN_MEMORY_MB = 16;
export const MAX_MEMORY_MB = 64 * 1024;

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;
const MAC = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i;
const SIZE = /^[1-9][0-9]*[KMGT]?$/;

export function labInvalid(message: string): AnvilError {
  return invalid('LAB_INVALID', message);
}

export function checkName(name: string): string {
  if (!NAME.test(name))
    throw labInvalid(`lab VM name '${name}' is not valid: use letters, digits, '.', '_' and '-' (up to 63), starting with a letter or digit`);
  return name;
}

export function normalizeMac(mac: string): string {
  if (!MAC.test(mac)) throw labInvalid(`MAC '${mac}' is not valid; write it as 52:54:00:12:34:56`);
  const normal = mac.toLowerCase().replaceAll('-', ':');
  if ((parseInt(normal.slice(0, 2), 16) & 1) === 1)
    throw labInvalid(`MAC ${normal} is a multicast address; a NIC needs a unicast one (QEMU's own prefix is 52:54:00)`);
  return normal;
}

export function checkDiskSize(size: string): string {
  if (!SIZE.test(size)) throw labInvalid(`disk size '${size}' is not valid; write it as qemu-img does: 8G, 512M`);
  return size;
}

export function checkSocketPath(path: string): string {
  if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH) {
    throw labInvalid(`socket path ${path} is longer than ${MAX_UNIX_SOCKET_PATH} bytes, the limit of a Unix socket; use a shorter --data directory`);
  }
  return path;
}

export function isBootDevice(value: unknown): value is LabBootDevice {
  return typeof value === 'string' && (LAB_BOOT_DEVICES as readonly string[]).includes(value);
}

function checkPort(port: unknown, what: string): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw labInvalid(`${what} ${String(port)} is not a port number (0-65535)`);
  return port;
}

function bootSetting(value: unknown, what: string): LabBootSetting {
  const v = value as { device?: unknown; efi?: unknown } | undefined;
  if (!v || !isBootDevice(v.device)) throw labInvalid(`${what} must name one of ${LAB_BOOT_DEVICES.join(', ')}`);
  return labBootSetting(v.device, v.efi === true);
}

function strings(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) throw labInvalid(`${what} must be a list of strings`);
  return value as string[];
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw labInvalid(`${what} is missing`);
  return value;
}

/** Parses and checks a definition read from JSON (a file another version or a person may have edited). */
export function parseDefinition(value: unknown): LabVmDefinition {
  if (typeof value !== 'object' || value === null) throw labInvalid('a lab VM definition must be a JSON object');
  const v = value as Record<string, unknown>;
  const memoryMb = v.memoryMb ?? DEFAULT_MEMORY_MB;
  if (typeof memoryMb !== 'number' || !Number.isInteger(memoryMb) || memoryMb < MIN_MEMORY_MB || memoryMb > MAX_MEMORY_MB) {
    throw labInvalid(`memory ${String(memoryMb)} MB is out of range (${MIN_MEMORY_MB}-${MAX_MEMORY_MB})`);
  }
  let disk: LabDiskDefinition | undefined;
  if (v.disk !== undefined && v.disk !== null) {
    const d = v.disk as Record<string, unknown>;
    const format = d.format ?? 'qcow2';
    if (format !== 'qcow2' && format !== 'raw') throw labInvalid(`disk format ${String(format)} is not qcow2 or raw`);
    disk = { path: str(d.path, 'disk path'), size: checkDiskSize(str(d.size, 'disk size')), format };
  }
  let bmc: LabBmcDefinition | undefined;
  if (v.bmc !== undefined && v.bmc !== null) {
    const b = v.bmc as Record<string, unknown>;
    if (!(LAB_BMC_KINDS as readonly unknown[]).includes(b.kind)) throw labInvalid(`BMC kind ${String(b.kind)} is not one of ${LAB_BMC_KINDS.join(', ')}`);
    bmc = {
      kind: b.kind as LabBmcKind,
      address: typeof b.address === 'string' ? b.address : DEFAULT_BMC_ADDRESS,
      ipmiPort: checkPort(b.ipmiPort ?? DEFAULT_IPMI_PORT, 'IPMI port'),
      amtPort: checkPort(b.amtPort ?? DEFAULT_AMT_PORT, 'AMT port'),
      redfishPort: checkPort(b.redfishPort ?? DEFAULT_REDFISH_PORT, 'Redfish port'),
      user: typeof b.user === 'string' ? b.user : DEFAULT_BMC_USER,
      password: typeof b.password === 'string' ? b.password : DEFAULT_BMC_PASSWORD,
    };
  }
  const netdev = typeof v.netdev === 'string' && v.netdev !== '' ? v.netdev : DEFAULT_NETDEV;
  if (/(^|,)id=/.test(netdev)) throw labInvalid(`netdev '${netdev}' must not set id=; anvil names it`);
  let sshPort: number | undefined;
  if (v.sshPort !== undefined && v.sshPort !== null) {
    sshPort = checkPort(v.sshPort, 'SSH port');
    if (sshPort === 0) throw labInvalid('the SSH port must be a fixed port (1-65535), not 0');
    if (!/^user(,|$)/.test(netdev)) throw labInvalid(`an SSH port forward needs QEMU's user network; netdev '${netdev}' is not one`);
  }
  return {
    name: checkName(str(v.name, 'name')),
    mac: normalizeMac(str(v.mac, 'MAC')),
    memoryMb,
    disk,
    cdrom: typeof v.cdrom === 'string' && v.cdrom !== '' ? v.cdrom : undefined,
    netdev,
    sshPort,
    serialSocket: checkSocketPath(str(v.serialSocket, 'serial socket path')),
    qmpSocket: checkSocketPath(str(v.qmpSocket, 'QMP socket path')),
    controlSocket: checkSocketPath(str(v.controlSocket, 'QMP control socket path')),
    boot: v.boot === undefined ? { device: 'pxe', efi: false } : bootSetting(v.boot, 'boot'),
    nextBoot: v.nextBoot === undefined || v.nextBoot === null ? undefined : bootSetting(v.nextBoot, 'nextBoot'),
    extraArgs: strings(v.extraArgs, 'extraArgs'),
    launcher: strings(v.launcher, 'launcher'),
    bmc,
  };
}

/** The definition as stored: undefined fields left out, so the JSON stays readable. */
export function definitionToJson(def: LabVmDefinition): string {
  return JSON.stringify(def, (_key, value: unknown) => (value === undefined ? undefined : value), 2) + '\n';
}
