// bin/anvil lab: the emulated lab, anvil's VirtualBMC. QEMU machines (TCG) defined under
// DATA/lab/vms/, each behind an emulated IPMI BMC, AMT, both, or a Redfish BMC, which `lab up` serves;
// `vm create --enroll` also makes the VM an anvil machine driven through that controller.
// This module parses the options and picks the command group: `vm` (lab-vm.ts, its console
// lab-console.ts), `up` and `down` (lab-up.ts).
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { findDataDir } from '../app/config.ts';
import {
  DEFAULT_AMT_PORT,
  DEFAULT_BMC_ADDRESS,
  DEFAULT_BMC_PASSWORD,
  DEFAULT_BMC_USER,
  DEFAULT_DISK_SIZE,
  DEFAULT_IPMI_PORT,
  DEFAULT_MEMORY_MB,
  DEFAULT_NETDEV,
  DEFAULT_REDFISH_PORT,
  LAB_BMC_KINDS,
  LAB_BOOT_DEVICES,
} from '../lab/definition.ts';
import { LAB_DRIVERS } from '../lab/enroll.ts';
import { LabStore } from '../lab/store.ts';
import { UsageError } from './command.ts';
import { down, up } from './lab-up.ts';
import { runVm } from './lab-vm.ts';

const HELP = `Usage: anvil lab <command> [options]

The emulated lab (anvil's VirtualBMC): QEMU virtual machines that stand in for physical
machines, each behind an emulated IPMI BMC, Intel AMT, both, or a Redfish BMC. A VM powered
on by its controller boots the device the controller asked for (PXE through Debian's iPXE,
disk, CD-ROM); its serial console is the IPMI BMC's SOL.

Commands:
  vm create NAME --mac MAC [options]   define a VM (see below); with --enroll it is an
                                       anvil machine too
  vm list [--json]                     every VM, its power state and controller
  vm show NAME [--json]                one VM's definition (the BMC password is never shown)
  vm delete NAME [--keep-disk]         stop the VM if it runs and remove it (and its disk);
                                       an anvil machine enrolled for it stays
  vm power NAME on|off|reset|soft-off|cycle|status [--wait]
                                       power the VM directly, for debugging; soft-off with
                                       --wait waits for the guest to power off
  vm bootdev NAME pxe|disk|cdrom|bios|http|default [--persistent] [--efi]
                                       set the boot device as a BMC would (default: one-time);
                                       http is UEFI HTTP boot (OVMF, PXE off)
  vm console NAME                      this terminal on the VM's serial console; Ctrl-] quits.
                                       While \`lab up\` runs it goes through lab up (which
                                       holds QEMU's one console connection) and works while
                                       the VM is off too, as SOL does
  up [--only NAME,...]                 serve every VM's controller in the foreground until
                                       Ctrl-C or SIGTERM; the VMs keep running afterwards
  down                                 stop every running VM (and QEMUs whose VM was deleted)

Options of vm create:
  --mac MAC              the NIC's MAC address (required), e.g. 52:54:00:12:34:56
  --disk SIZE|none       disk size as qemu-img takes it (default ${DEFAULT_DISK_SIZE}; a sparse qcow2)
  --memory MB            memory (default ${DEFAULT_MEMORY_MB})
  --boot DEVICE          persistent boot device: ${LAB_BOOT_DEVICES.join(', ')} (default pxe)
  --netdev SPEC          QEMU -netdev backend without id (default '${DEFAULT_NETDEV}', or anvil
                         with --enroll), e.g. 'tap,ifname=tap0,script=no,downscript=no', 'none'
                         for no NIC, or 'anvil': an isolated user network whose one way out is
                         the anvil serving this data directory (its DHCP boots the VM from it)
  --ssh-port P           forward 127.0.0.1:P to the VM's port 22 (a user network, as the
                         default and anvil's are); with --enroll the machine's properties
                         say address=127.0.0.1 ssh_port=P, so node_status and VCL reach it
  --cdrom ISO            attach an ISO image as the CD-ROM
  --bmc KIND             ${LAB_BMC_KINDS.join(', ')} (default ipmi)
  --bmc-address A        where the controller listens (default ${DEFAULT_BMC_ADDRESS})
  --bmc-port P           the IPMI BMC's UDP port (default ${DEFAULT_IPMI_PORT}; below 1024 needs root)
  --amt-port P           the AMT's TCP port (default ${DEFAULT_AMT_PORT})
  --redfish-port P       the Redfish BMC's HTTPS port (default ${DEFAULT_REDFISH_PORT}); its certificate
                         is made once per lab in DIR/lab/redfish-tls/ (clients trust ca.pem there)
  --bmc-user U           the controller's user (default ${DEFAULT_BMC_USER}, as VirtualBMC)
  --bmc-password-file F  read the controller's password from the first line of F
  --bmc-password W       the password (visible in ps; prefer the option above or
                         ANVIL_BMC_PASSWORD); default '${DEFAULT_BMC_PASSWORD}', as VirtualBMC
  --enroll               also enroll the VM as an anvil machine in the same data directory:
                         its MAC, and driver ipmi, amt or redfish with driver_info pointing at its
                         controller (the password encrypted at rest, as 'anvil machine set'
                         stores it). A machine of that name that already exists is updated
                         (driver, driver_info, the MAC added), not refused. Needs a fixed
                         --bmc-port/--amt-port/--redfish-port (not 0); a Redfish BMC is
                         verified with the lab's CA. Then 'anvil machine power NAME on'
                         works while 'lab up' serves the controller
  --enroll-driver D      ${LAB_DRIVERS.join(' or ')}: which controller of a --bmc both VM anvil uses
                         (default ipmi); implies --enroll

vm delete leaves an enrolled anvil machine in place (it says so): remove it with
'pxemngr delsystem NAME' if it is gone for good.

Common options:
  --data DIR             data directory (default: ANVIL_DATA, the config file, else the nearest
                         ./anvil-data here or above); the lab lives in DIR/lab
  -h, --help             this text

The password is stored in DIR/lab/vms/NAME.json, readable by its owner only, and never put
on QEMU's command line. QEMU runs with TCG (-accel tcg); its log is DIR/lab/run/NAME/qemu.log.
`;

const OPTIONS = {
  data: { type: 'string' },
  mac: { type: 'string' },
  disk: { type: 'string' },
  memory: { type: 'string' },
  boot: { type: 'string' },
  netdev: { type: 'string' },
  cdrom: { type: 'string' },
  'ssh-port': { type: 'string' },
  bmc: { type: 'string' },
  'bmc-address': { type: 'string' },
  'bmc-port': { type: 'string' },
  'amt-port': { type: 'string' },
  'redfish-port': { type: 'string' },
  'bmc-user': { type: 'string' },
  'bmc-password': { type: 'string' },
  'bmc-password-file': { type: 'string' },
  json: { type: 'boolean' },
  'keep-disk': { type: 'boolean' },
  wait: { type: 'boolean' },
  persistent: { type: 'boolean' },
  efi: { type: 'boolean' },
  only: { type: 'string' },
  enroll: { type: 'boolean' },
  'enroll-driver': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export type LabValues = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  const dataDir = findDataDir(values.data).dir;
  const store = new LabStore(dataDir);
  const [group, verb] = positionals;
  if (group === 'up') return up(store, values.only);
  if (group === 'down') return down(store);
  if (group !== 'vm') throw new UsageError(`unknown lab command '${group}'; expected vm, up or down`);
  return runVm(store, dataDir, verb, positionals, values);
}
