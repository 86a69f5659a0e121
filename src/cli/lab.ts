// bin/anvil lab: the emulated lab, anvil's VirtualBMC. QEMU machines (TCG) defined under
// DATA/lab/vms/, each behind an emulated IPMI BMC, AMT, or both, which `lab up` serves;
// `vm create --enroll` also makes the VM an anvil machine driven through that controller.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { DEFAULT_DATA_DIR, resolvePaths } from '../app/config.ts';
import { openServices } from '../app/compose.ts';
import type { Services } from '../app/compose.ts';
import {
  DEFAULT_AMT_PORT,
  DEFAULT_BMC_ADDRESS,
  DEFAULT_BMC_PASSWORD,
  DEFAULT_BMC_USER,
  DEFAULT_DISK_SIZE,
  DEFAULT_IPMI_PORT,
  DEFAULT_MEMORY_MB,
  DEFAULT_NETDEV,
  isBootDevice,
  LAB_BMC_KINDS,
  LAB_BOOT_DEVICES,
} from '../lab/definition.ts';
import type { LabBmcKind, LabVmDefinition } from '../lab/definition.ts';
import { LAB_DRIVERS, pickEnrollment } from '../lab/enroll.ts';
import type { LabDriver } from '../lab/enroll.ts';
import { describeEnrollment, enrollLabVm } from '../app/enroll-lab-vm.ts';
import { LabStore } from '../lab/store.ts';
import { startLab, stopLab } from '../lab/up.ts';
import { ensureDisk, LabVm } from '../lab/vm.ts';
import type { LabPowerEvent } from '../lab/vm.ts';
import { AnvilError } from '../common/errors.ts';
import { connectSerial } from '../lab/console.ts';
import { connectConsoleShare } from '../lab/console-share.ts';
import { UsageError } from './command.ts';
import { printJson, table } from './output.ts';

const HELP = `Usage: anvil lab <command> [options]

The emulated lab (anvil's VirtualBMC): QEMU virtual machines that stand in for physical
machines, each behind an emulated IPMI BMC, Intel AMT, or both. A VM powered on by its
controller boots the device the controller asked for (PXE through Debian's iPXE, disk,
CD-ROM); its serial console is the BMC's SOL.

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
  vm bootdev NAME pxe|disk|cdrom|bios|default [--persistent] [--efi]
                                       set the boot device as a BMC would (default: one-time)
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
  --netdev SPEC          QEMU -netdev backend without id (default '${DEFAULT_NETDEV}'), e.g.
                         'tap,ifname=tap0,script=no,downscript=no' or 'none' for no NIC
  --cdrom ISO            attach an ISO image as the CD-ROM
  --bmc KIND             ${LAB_BMC_KINDS.join(', ')} (default ipmi)
  --bmc-address A        where the controller listens (default ${DEFAULT_BMC_ADDRESS})
  --bmc-port P           the IPMI BMC's UDP port (default ${DEFAULT_IPMI_PORT}; below 1024 needs root)
  --amt-port P           the AMT's TCP port (default ${DEFAULT_AMT_PORT})
  --bmc-user U           the controller's user (default ${DEFAULT_BMC_USER}, as VirtualBMC)
  --bmc-password-file F  read the controller's password from the first line of F
  --bmc-password W       the password (visible in ps; prefer the option above or
                         ANVIL_BMC_PASSWORD); default '${DEFAULT_BMC_PASSWORD}', as VirtualBMC
  --enroll               also enroll the VM as an anvil machine in the same data directory:
                         its MAC, and driver ipmi or amt with driver_info pointing at its
                         controller (the password encrypted at rest, as 'anvil machine set'
                         stores it). A machine of that name that already exists is updated
                         (driver, driver_info, the MAC added), not refused. Needs a fixed
                         --bmc-port/--amt-port (not 0). Then 'anvil machine power NAME on'
                         works while 'lab up' serves the controller
  --enroll-driver D      ${LAB_DRIVERS.join(' or ')}: which controller of a --bmc both VM anvil uses
                         (default ipmi); implies --enroll

vm delete leaves an enrolled anvil machine in place (it says so): remove it with
'pxemngr delsystem NAME' if it is gone for good.

Common options:
  --data DIR             data directory (default ${DEFAULT_DATA_DIR}, or ANVIL_DATA); the lab lives in DIR/lab
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
  bmc: { type: 'string' },
  'bmc-address': { type: 'string' },
  'bmc-port': { type: 'string' },
  'amt-port': { type: 'string' },
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

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function integer(text: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} '${text}' must be an integer from ${min} to ${max}`);
  return n;
}

function bmcPassword(values: Values): string {
  const file = values['bmc-password-file'];
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (error) {
      throw new UsageError(`cannot read --bmc-password-file '${file}': ${(error as Error).message}`);
    }
  }
  return values['bmc-password'] ?? process.env.ANVIL_BMC_PASSWORD ?? DEFAULT_BMC_PASSWORD;
}

function need(positionals: readonly string[], index: number, what: string): string {
  const value = positionals[index];
  if (value === undefined) throw new UsageError(`missing ${what}`);
  return value;
}

function describeBmc(def: LabVmDefinition): string {
  const bmc = def.bmc;
  if (!bmc) return '-';
  const parts: string[] = [];
  if (bmc.kind !== 'amt') parts.push(`ipmi ${bmc.address}:${bmc.ipmiPort}`);
  if (bmc.kind !== 'ipmi') parts.push(`amt ${bmc.address}:${bmc.amtPort}`);
  return parts.join(', ');
}

/** The definition as shown: the password replaced, never printed. */
function shown(def: LabVmDefinition): unknown {
  return { ...def, bmc: def.bmc ? { ...def.bmc, password: '********' } : undefined };
}

/** The anvil services of the lab's data directory (the same one `anvil serve` uses). */
async function withServices<T>(dataDir: string, action: (services: Services) => Promise<T>): Promise<T> {
  const services = await openServices({ data: dataDir, drivers: { process: 'anvil lab' } });
  try {
    return await action(services);
  } finally {
    await services.close();
  }
}

function enrollDriver(values: Values): LabDriver | undefined {
  const driver = values['enroll-driver'];
  if (driver === undefined) return undefined;
  if (!(LAB_DRIVERS as readonly string[]).includes(driver)) throw new UsageError(`--enroll-driver '${driver}' must be one of ${LAB_DRIVERS.join(', ')}`);
  return driver as LabDriver;
}

async function create(store: LabStore, dataDir: string, name: string, values: Values): Promise<number> {
  if (values.mac === undefined) throw new UsageError('vm create needs --mac MAC');
  const kind = (values.bmc ?? 'ipmi') as LabBmcKind;
  if (!LAB_BMC_KINDS.includes(kind)) throw new UsageError(`--bmc '${values.bmc}' must be one of ${LAB_BMC_KINDS.join(', ')}`);
  if (values.boot !== undefined && !isBootDevice(values.boot)) throw new UsageError(`--boot '${values.boot}' must be one of ${LAB_BOOT_DEVICES.join(', ')}`);
  const driver = enrollDriver(values);
  const enroll = values.enroll === true || driver !== undefined;
  const input = {
    name,
    mac: values.mac,
    memoryMb: integer(values.memory, '--memory', 16, 64 * 1024, DEFAULT_MEMORY_MB),
    diskSize: values.disk === 'none' ? null : (values.disk ?? DEFAULT_DISK_SIZE),
    ...(values.cdrom !== undefined ? { cdrom: resolve(values.cdrom) } : {}),
    ...(values.netdev !== undefined ? { netdev: values.netdev } : {}),
    ...(values.boot !== undefined && isBootDevice(values.boot) ? { boot: { device: values.boot, efi: false } } : {}),
    bmc: {
      kind,
      address: values['bmc-address'] ?? DEFAULT_BMC_ADDRESS,
      ipmiPort: integer(values['bmc-port'], '--bmc-port', 0, 65535, DEFAULT_IPMI_PORT),
      amtPort: integer(values['amt-port'], '--amt-port', 0, 65535, DEFAULT_AMT_PORT),
      user: values['bmc-user'] ?? DEFAULT_BMC_USER,
      password: bmcPassword(values),
    },
  };
  // Refused before anything is written: a VM without the controller asked for, or on port 0.
  if (enroll) pickEnrollment(store.define(input), driver);
  const def = await store.create(input);
  let enrolled: string | undefined;
  try {
    await ensureDisk(def);
    if (enroll)
      enrolled = describeEnrollment(
        await withServices(dataDir, (s) => enrollLabVm(s, def, { ...(driver ? { driver } : {}), who: 'anvil lab vm create --enroll' })),
      );
  } catch (error) {
    // All or nothing: a VM whose enrollment failed (its MAC belongs to another machine) is not left behind.
    await store.delete(def.name);
    throw error;
  }
  process.stdout.write(`created lab VM ${def.name} (${def.mac}), ${describeBmc(def)}\n`);
  if (enrolled) process.stdout.write(`${enrolled}\n`);
  return 0;
}

async function list(store: LabStore, json: boolean): Promise<number> {
  const rows: { name: string; mac: string; power: string; boot: string; bmc: string }[] = [];
  for (const def of await store.list((file, error) => process.stderr.write(`anvil lab: skipping ${file}: ${(error as Error).message}\n`))) {
    const vm = await LabVm.open(store, def.name, { watch: false });
    const boot = await vm.getBootDevice();
    rows.push({
      name: def.name,
      mac: def.mac,
      power: await vm.getPowerState(),
      boot: `${boot.device}${boot.persistent ? '' : ' (once)'}`,
      bmc: describeBmc(def),
    });
    await vm.close();
  }
  if (json) printJson(rows);
  else
    process.stdout.write(
      table(
        ['NAME', 'MAC', 'POWER', 'BOOT', 'CONTROLLER'],
        rows.map((r) => [r.name, r.mac, r.power, r.boot, r.bmc]),
      ) + '\n',
    );
  return 0;
}

async function power(store: LabStore, name: string, action: string, wait: boolean): Promise<number> {
  const vm = await LabVm.open(store, name, { watch: false });
  try {
    switch (action) {
      case 'status':
        process.stdout.write(`${await vm.getPowerState()}\n`);
        return 0;
      case 'soft-off':
        await vm.softOff({ wait });
        break;
      case 'on':
      case 'off':
      case 'reset':
      case 'cycle':
        await vm.setPowerState(action);
        break;
      default:
        throw new UsageError(`power action '${action}' must be on, off, reset, soft-off, cycle or status`);
    }
    process.stdout.write(`${name}: ${await vm.getPowerState()}\n`);
    return 0;
  } finally {
    await vm.close();
  }
}

async function bootdev(store: LabStore, name: string, device: string, values: Values): Promise<number> {
  if (device !== 'default' && !isBootDevice(device)) throw new UsageError(`boot device '${device}' must be one of ${LAB_BOOT_DEVICES.join(', ')} or default`);
  const vm = await LabVm.open(store, name, { watch: false });
  try {
    await vm.setBootDevice(device, { persistent: values.persistent === true, ...(values.efi ? { efi: true } : {}) });
    const now = await vm.getBootDevice();
    process.stdout.write(`${name}: boots ${now.device}${now.persistent ? '' : ' once'}${now.efi ? ' (UEFI)' : ''}\n`);
    return 0;
  } finally {
    await vm.close();
  }
}

/** Ctrl-]: leaves the console, as virsh console and telnet do. */
const CONSOLE_ESCAPE = 0x1d;

async function consoleCommand(store: LabStore, name: string): Promise<number> {
  const def = await store.load(name);
  const vm = await LabVm.open(store, name, { watch: false });
  const on = (await vm.getPowerState()) === 'on';
  await vm.close();
  // While lab up runs it holds QEMU's one serial connection and shares it; the share, like SOL, works while the VM is off too.
  const shared = await connectConsoleShare(store.consoleSocket(def.name));
  if (!shared && !on) throw new AnvilError('LAB_POWERED_OFF', 'conflict', `lab VM ${name} is off; power it on first ('anvil lab vm power ${name} on')`);
  const socket = shared ?? (await connectSerial(def.serialSocket, { timeoutMs: 0 }));
  const via = shared ? ` (shared by lab up${on ? '' : '; the VM is off, its output shows once it is powered on'})` : '';
  process.stderr.write(`connected to ${name}'s serial console${via}; Ctrl-] quits\n`);
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  return new Promise<number>((resolveDone) => {
    const finish = (): void => {
      if (raw) stdin.setRawMode(false);
      // Paused, a piped stdin would still hold the process open: the console is done with it.
      stdin.destroy();
      socket.destroy();
      resolveDone(0);
    };
    stdin.on('data', (chunk: Buffer) => {
      const escape = chunk.indexOf(CONSOLE_ESCAPE);
      if (escape >= 0) {
        socket.write(chunk.subarray(0, escape));
        finish();
        return;
      }
      socket.write(chunk);
    });
    // Piped input that ends leaves the console open until the VM goes off or Ctrl-C.
    socket.on('data', (chunk: Buffer) => process.stdout.write(chunk));
    socket.on('close', finish);
    socket.on('error', finish);
  });
}

async function remove(store: LabStore, dataDir: string, name: string, keepDisk: boolean): Promise<number> {
  const def = await store.load(name);
  const vm = await LabVm.open(store, name, { watch: false });
  await vm.powerOff();
  await vm.close();
  await store.delete(name, { keepDisk });
  process.stdout.write(`deleted lab VM ${name}\n`);
  // The machine (its boot log, tests, results) is anvil's, not the lab's: left alone, but named.
  const machine = await enrolledMachine(dataDir, def.name, def.mac);
  if (machine) process.stdout.write(`anvil machine ${machine.name} (driver ${machine.driver}) still exists; 'pxemngr delsystem ${machine.name}' removes it\n`);
  return 0;
}

/** The anvil machine of that name or MAC, if the data directory has a database at all (none is created to find out). */
async function enrolledMachine(dataDir: string, name: string, mac: string): Promise<{ name: string; driver: string } | undefined> {
  if (!process.env.ANVIL_DATABASE_URL && !existsSync(resolvePaths({ data: dataDir }).database)) return undefined;
  return withServices(dataDir, async (s) => (await s.machines.byName(name)) ?? (await s.machines.byMac(mac)));
}

async function down(store: LabStore): Promise<number> {
  const { stopped, orphans } = await stopLab(store);
  for (const name of stopped) process.stdout.write(`stopped ${name}\n`);
  for (const name of orphans) process.stdout.write(`cleaned up ${name} (no definition)\n`);
  return 0;
}

async function up(store: LabStore, only: string | undefined): Promise<number> {
  const say = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const lab = await startLab(store, {
    ...(only
      ? {
          only: only
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        }
      : {}),
    onPower: (e: LabPowerEvent) => say(`${e.name}: power ${e.state} (${e.reason}${e.signal ? `, ${e.signal}` : ''})`),
    log: say,
  });
  if (lab.controllers.length === 0) {
    await lab.close();
    process.stderr.write(`anvil lab up: no lab VM with a controller in ${store.vmsDir}; create one with 'anvil lab vm create NAME --mac MAC --bmc ipmi'\n`);
    return 1;
  }
  for (const c of lab.controllers) say(`${c.name}: ${c.kind === 'ipmi' ? 'IPMI BMC' : 'AMT'} on ${c.address}:${c.port}`);
  say('serving; Ctrl-C or SIGTERM stops the controllers (the VMs keep running: anvil lab down stops them)');
  await new Promise<void>((resolveStop) => {
    process.once('SIGTERM', resolveStop);
    process.once('SIGINT', resolveStop);
  });
  await lab.close();
  return 0;
}

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
  const dataDir = values.data ?? process.env.ANVIL_DATA ?? DEFAULT_DATA_DIR;
  const store = new LabStore(dataDir);
  const [group, verb] = positionals;
  if (group === 'up') return up(store, values.only);
  if (group === 'down') return down(store);
  if (group !== 'vm') throw new UsageError(`unknown lab command '${group}'; expected vm, up or down`);
  switch (verb) {
    case 'create':
      return create(store, dataDir, need(positionals, 2, 'the VM name'), values);
    case 'list':
      return list(store, values.json === true);
    case 'show': {
      // The definition is JSON on disk too: one format, with or without --json.
      printJson(shown(await store.load(need(positionals, 2, 'the VM name'))));
      return 0;
    }
    case 'delete':
      return remove(store, dataDir, need(positionals, 2, 'the VM name'), values['keep-disk'] === true);
    case 'power':
      return power(
        store,
        need(positionals, 2, 'the VM name'),
        need(positionals, 3, 'the power action (on, off, reset, soft-off, cycle, status)'),
        values.wait === true,
      );
    case 'console':
      return consoleCommand(store, need(positionals, 2, 'the VM name'));
    case 'bootdev':
      return bootdev(store, need(positionals, 2, 'the VM name'), need(positionals, 3, 'the boot device'), values);
    default:
      throw new UsageError(`unknown 'lab vm' command '${verb ?? ''}'; expected create, list, show, delete, power, bootdev or console`);
  }
}
