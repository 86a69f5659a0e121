// `anvil lab vm ...`: the lab's VM definitions and their direct control, for debugging:
// create (with --enroll also an anvil machine), list, show, delete, power and bootdev. The
// console is lab-console.ts's; lab.ts parses the options and picks the group.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolvePaths } from '../app/config.ts';
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
  DEFAULT_REDFISH_PORT,
  hasAmt,
  hasIpmi,
  hasRedfish,
  isBootDevice,
  LAB_BMC_KINDS,
  LAB_BOOT_DEVICES,
} from '../lab/definition.ts';
import type { LabBmcKind, LabVmDefinition } from '../lab/definition.ts';
import { LAB_DRIVERS, pickEnrollment } from '../lab/enroll.ts';
import { ANVIL_NETDEV } from '../lab/guest-network.ts';
import type { LabDriver } from '../lab/enroll.ts';
import { describeEnrollment, enrollLabVm } from '../app/enroll-lab-vm.ts';
import { labRedfishCaFile, labRedfishTls } from '../lab/redfish-tls.ts';
import type { LabStore } from '../lab/store.ts';
import { ensureDisk, LabVm } from '../lab/vm.ts';
import { UsageError } from './command.ts';
import { consoleCommand } from './lab-console.ts';
import type { LabValues } from './lab.ts';
import { printJson, table } from './output.ts';

/** Runs `lab vm VERB ...`; positionals are the whole command line's (vm, the verb, its arguments). */
export async function runVm(store: LabStore, dataDir: string, verb: string | undefined, positionals: readonly string[], values: LabValues): Promise<number> {
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

function integer(text: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} '${text}' must be an integer from ${min} to ${max}`);
  return n;
}

function bmcPassword(values: LabValues): string {
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
  if (hasIpmi(bmc.kind)) parts.push(`ipmi ${bmc.address}:${bmc.ipmiPort}`);
  if (hasAmt(bmc.kind)) parts.push(`amt ${bmc.address}:${bmc.amtPort}`);
  if (hasRedfish(bmc.kind)) parts.push(`redfish https://${bmc.address.includes(':') ? `[${bmc.address}]` : bmc.address}:${bmc.redfishPort}`);
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

function enrollDriver(values: LabValues): LabDriver | undefined {
  const driver = values['enroll-driver'];
  if (driver === undefined) return undefined;
  if (!(LAB_DRIVERS as readonly string[]).includes(driver)) throw new UsageError(`--enroll-driver '${driver}' must be one of ${LAB_DRIVERS.join(', ')}`);
  return driver as LabDriver;
}

async function create(store: LabStore, dataDir: string, name: string, values: LabValues): Promise<number> {
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
    // An enrolled VM boots from the anvil of its data directory unless told otherwise.
    ...(values.netdev !== undefined ? { netdev: values.netdev } : enroll ? { netdev: ANVIL_NETDEV } : {}),
    ...(values.boot !== undefined && isBootDevice(values.boot) ? { boot: { device: values.boot, efi: false } } : {}),
    ...(values['ssh-port'] !== undefined ? { sshPort: integer(values['ssh-port'], '--ssh-port', 1, 65535, 22) } : {}),
    bmc: {
      kind,
      address: values['bmc-address'] ?? DEFAULT_BMC_ADDRESS,
      ipmiPort: integer(values['bmc-port'], '--bmc-port', 0, 65535, DEFAULT_IPMI_PORT),
      amtPort: integer(values['amt-port'], '--amt-port', 0, 65535, DEFAULT_AMT_PORT),
      redfishPort: integer(values['redfish-port'], '--redfish-port', 0, 65535, DEFAULT_REDFISH_PORT),
      user: values['bmc-user'] ?? DEFAULT_BMC_USER,
      password: bmcPassword(values),
    },
  };
  // Refused before anything is written: a VM without the controller asked for, or on port 0.
  const redfishCaFile = labRedfishCaFile(store);
  if (enroll) pickEnrollment(store.define(input), driver, { redfishCaFile });
  const def = await store.create(input);
  let enrolled: string | undefined;
  try {
    await ensureDisk(def);
    // Made now, not at the first lab up, so an enrolled machine's redfish_verify_ca names a file that exists.
    if (hasRedfish(kind)) await labRedfishTls(store, [input.bmc.address], (line) => process.stdout.write(`${line}\n`));
    if (enroll)
      enrolled = describeEnrollment(
        await withServices(dataDir, (s) => enrollLabVm(s, def, { ...(driver ? { driver } : {}), redfishCaFile, who: 'anvil lab vm create --enroll' })),
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

async function bootdev(store: LabStore, name: string, device: string, values: LabValues): Promise<number> {
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
