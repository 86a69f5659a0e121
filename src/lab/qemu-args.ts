// The QEMU command line of a lab VM, built from its definition and the boot device asked for.
// Pure: the caller says which files exist (firmware, option ROM). Nothing secret ever goes here.
import { hasRedfish, labInvalid } from './definition.ts';
import type { LabBootDevice, LabBootSetting, LabVmDefinition } from './definition.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';
/**
 * Debian's ipxe-qemu ROM for virtio-net. It is built for the modern virtio device id (1af4:1041),
 * so the NIC runs with disable-legacy=on: SeaBIOS skips a ROM whose PCI id does not match the
 * device, and a transitional NIC (1af4:1000) silently never network-boots.
 */
export const DEFAULT_IPXE_ROM = '/usr/lib/ipxe/qemu/efi-virtio.rom';
/** Where Debian's ovmf package puts the UEFI firmware, for boot settings with efi: true. */
export const OVMF_CANDIDATES: readonly string[] = ['/usr/share/ovmf/OVMF.fd', '/usr/share/OVMF/OVMF.fd', '/usr/share/qemu/OVMF.fd'];
/** How long SeaBIOS shows its boot menu for the `bios` boot device before going on with the boot order. */
export const BIOS_MENU_MS = 60_000;
/** The CD-ROM's block backend and its device: QMP's blockdev-change-medium and eject name the device. */
export const CDROM_DRIVE = 'cd0';
export const CDROM_DEVICE = 'cdrom0';

/** QEMU's -boot letters (qemu-options.hx, "-boot"): a=floppy, c=first disk, d=CD-ROM, n=network. */
const BOOT_LETTER: Record<LabBootDevice, string> = { pxe: 'n', disk: 'c', cdrom: 'd', bios: 'c', http: 'n' };

/**
 * OVMF's fw_cfg switches that leave UEFI HTTP boot over IPv4 as the NIC's only network boot
 * option (checked on Debian's ovmf 2022.11: its console says "Start HTTP Boot over IPv4" and
 * its DHCP DISCOVER carries option 60 HTTPClient, test/netboot/uefi-http-boot.test.ts).
 */
export const OVMF_HTTP_BOOT_ONLY: readonly string[] = [
  '-fw_cfg',
  'name=opt/org.tianocore/IPv4PXESupport,string=n',
  '-fw_cfg',
  'name=opt/org.tianocore/IPv6PXESupport,string=n',
  '-fw_cfg',
  'name=opt/org.tianocore/IPv6Support,string=n',
];

/** Whether a QEMU command line boots by UEFI HTTP boot (has OVMF's switches above). */
export function isHttpBootLaunch(args: readonly string[]): boolean {
  return args.includes(OVMF_HTTP_BOOT_ONLY[1]!);
}

/**
 * The -boot value. The persistent device is `order`; a one-time device is QEMU's `once`, which
 * QEMU itself reverts to `order` at the first reset — exactly a BMC's one-time boot flag.
 * `bios` has no QEMU equivalent: it shows SeaBIOS's boot menu (there is no setup screen) and
 * then boots the disk.
 */
export function bootOption(persistent: LabBootSetting, once: LabBootSetting | undefined): string {
  const parts = [`order=${BOOT_LETTER[persistent.device]}`];
  if (once) parts.push(`once=${BOOT_LETTER[once.device]}`);
  if ((once ?? persistent).device === 'bios') parts.push(`menu=on`, `splash-time=${BIOS_MENU_MS}`);
  return parts.join(',');
}

/** QEMU option values separate sub-options with commas; a literal comma is doubled. */
export function escapeOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

export interface QemuLaunchOptions {
  /** The one-time boot device this start uses, if any. */
  readonly once: LabBootSetting | undefined;
  /** The NIC's option ROM (iPXE). */
  readonly romFile?: string;
  /** UEFI firmware, required when the boot setting in effect asks for efi. */
  readonly uefiFirmware?: string | undefined;
}

export interface QemuLaunch {
  readonly command: string;
  readonly args: readonly string[];
}

/**
 * The command that starts the VM. QEMU starts paused (-S): the supervisor connects to the
 * serial console before the first byte is written, then sends `cont`.
 */
export function qemuLaunch(def: LabVmDefinition, options: QemuLaunchOptions): QemuLaunch {
  const effective = options.once ?? def.boot;
  const args: string[] = [
    '-name',
    `guest=${escapeOptionValue(def.name)},process=anvil-lab-${escapeOptionValue(def.name)}`,
    '-machine',
    'q35',
    // KVM hangs or aborts on these hosts ("failed to set MSR"); TCG always works.
    '-accel',
    'tcg',
    '-m',
    String(def.memoryMb),
    // -nographic, not -display none: only with -nographic does QEMU tell SeaBIOS (fw_cfg
    // etc/sercon-port) to put its console, and the option ROMs' (iPXE), on the serial port.
    '-nographic',
    '-nodefaults',
    '-no-user-config',
    '-S',
    '-qmp',
    `unix:${escapeOptionValue(def.qmpSocket)},server=on,wait=off`,
    '-qmp',
    `unix:${escapeOptionValue(def.controlSocket)},server=on,wait=off`,
    '-chardev',
    `socket,id=ser0,path=${escapeOptionValue(def.serialSocket)},server=on,wait=off`,
    '-serial',
    'chardev:ser0',
  ];
  const httpBoot = effective.device === 'http';
  if (effective.efi || httpBoot) {
    if (!options.uefiFirmware) throw labInvalid(`lab VM ${def.name} is set to boot in UEFI mode, but no OVMF firmware is installed (apt-get install ovmf)`);
    args.push('-bios', options.uefiFirmware);
  }
  if (httpBoot) args.push(...OVMF_HTTP_BOOT_ONLY);
  if (def.netdev === 'none') {
    args.push('-nic', 'none');
  } else {
    // UEFI HTTP boot is OVMF's own (its virtio-net driver and HTTP boot client), so no iPXE
    // ROM; bootindex puts the NIC before a disk that OVMF would otherwise boot first.
    const nic = httpBoot ? 'romfile=,bootindex=1' : `romfile=${escapeOptionValue(options.romFile ?? DEFAULT_IPXE_ROM)}`;
    args.push(
      '-netdev',
      `${def.netdev}${def.sshPort === undefined ? '' : `,hostfwd=tcp:127.0.0.1:${def.sshPort}-:22`},id=net0`,
      '-device',
      `virtio-net-pci,disable-legacy=on,netdev=net0,mac=${def.mac},${nic}`,
    );
  }
  if (def.disk) {
    args.push('-drive', `file=${escapeOptionValue(def.disk.path)},format=${def.disk.format},if=none,id=disk0`, '-device', 'virtio-blk-pci,drive=disk0');
  }
  // A Redfish BMC's virtual media needs a drive to put its image in while QEMU runs: an empty one when there is no ISO yet.
  if (def.cdrom || (def.bmc && hasRedfish(def.bmc.kind))) {
    const file = def.cdrom ? `file=${escapeOptionValue(def.cdrom)},` : '';
    args.push('-drive', `${file}media=cdrom,if=none,id=${CDROM_DRIVE},readonly=on`, '-device', `ide-cd,drive=${CDROM_DRIVE},id=${CDROM_DEVICE}`);
  }
  args.push('-boot', bootOption(def.boot, options.once), ...def.extraArgs);
  const [command, ...launcherArgs] = [...def.launcher, QEMU_BINARY];
  return { command: command ?? QEMU_BINARY, args: [...launcherArgs, ...args] };
}

/** The -boot value a running QEMU was started with, read back from its command line. */
export function bootOptionOf(args: readonly string[]): string | undefined {
  const i = args.lastIndexOf('-boot');
  return i >= 0 ? args[i + 1] : undefined;
}
