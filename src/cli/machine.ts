// bin/anvil machine: a machine's controller from the shell — driver and driver_info (secrets
// from a file or the environment, never needed on the command line), power, boot device,
// events. Like pxemngr it acts on the database directly, under the same machine lock as the
// server, so a running server and these commands never race on one machine.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import type { Services } from '../app/compose.ts';
import { dataOption, openData } from './data.ts';
import { BOOT_DEVICES, POWER_REQUESTS, type BootDevice, type PowerRequest } from '../conductor/machine-control.ts';
import { printJson, table, when } from './output.ts';
import { UsageError, runProgram } from './command.ts';
import { notFound } from '../common/errors.ts';
import { addProvisionCommands } from './machine-provision.ts';

interface GlobalOptions {
  data?: string;
  json?: boolean;
}

function program(): Command {
  const cmd = new Command('anvil machine')
    .description(
      "Control a machine through its management controller (IPMI, AMT): driver, power, boot device, and its provision state (deploy an image).\nActs on the database directly, with or without a server running, under the machine's lock.",
    )
    .addOption(dataOption())
    .option('--json', 'print JSON for scripts')
    .showHelpAfterError()
    .exitOverride();
  cmd.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  return cmd;
}

async function withServices<T>(cmd: Command, action: (s: Services, o: GlobalOptions) => Promise<T>): Promise<T> {
  const options = cmd.optsWithGlobals<GlobalOptions>();
  const services = await openData({ data: options.data, drivers: { process: 'anvil machine' } });
  try {
    return await action(services, options);
  } finally {
    await services.close();
  }
}

/** "k=v,k=v" into fields; a value may contain '=' but not ','. An empty value removes the field. */
export function parseDriverInfo(text: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--driver-info: '${part.replace(/=.*/, '=…')}' is not key=value`);
    const value = part.slice(eq + 1);
    const key = part.slice(0, eq).trim();
    // A command line is visible to every user of the host (ps, /proc/*/cmdline, shell history).
    if (PASSWORD_FIELD.test(key) && value !== '')
      throw new UsageError(
        `--driver-info: ${key} is not taken on the command line, where every user of this host can read it; give it with --password-file FILE (its first line; '-' for stdin) or --password-env VAR`,
      );
    out[key] = value === '' ? null : value;
  }
  return out;
}

/** driver_info fields that hold a password: refused in --driver-info (an empty value, which removes one, is fine). */
const PASSWORD_FIELD = /_password$/;

function readSecret(file: string | undefined, envName: string | undefined): string | undefined {
  if (file !== undefined) {
    try {
      return readFileSync(file === '-' ? 0 : file, 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (error) {
      throw new UsageError(`cannot read --password-file '${file}': ${(error as Error).message}`);
    }
  }
  if (envName !== undefined) {
    const value = process.env[envName];
    if (value === undefined) throw new UsageError(`--password-env ${envName}: that variable is not set`);
    return value;
  }
  return undefined;
}

function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout '${text}' must be a positive number of seconds`);
  return Math.round(seconds * 1000);
}

const who = () => `${process.env.USER ?? userInfo().username} via bin/anvil machine`;

export function buildMachine(): Command {
  const root = program();
  for (const add of [powerCommand, bootdevCommand, setCommand, showCommand, eventsCommand, unlockCommand, discoveredCommand, forgetCommand]) add(root);
  addProvisionCommands(root, withServices, who);
  return root;
}

/** anvil machine power NAME ACTION: powers a machine and waits for the new state, or reads it. */
function powerCommand(root: Command): void {
  root
    .command('power')
    .description('Power a machine on, off, soft-off or reboot it (waiting for the new state), or read its power state')
    .argument('<name>', 'machine name or MAC')
    .argument('<action>', `${POWER_REQUESTS.join('|')}|status`)
    .option('--timeout <seconds>', 'how long to wait for the new state (default 60)')
    .action(async (name: string, action: string, opts: { timeout?: string }, c: Command) => {
      if (action !== 'status' && !POWER_REQUESTS.includes(action as PowerRequest))
        throw new UsageError(`unknown power action '${action}'; use ${POWER_REQUESTS.join(', ')} or status`);
      const timeoutMs = parseTimeout(opts.timeout);
      await withServices(c, async (s, o) => {
        const result = action === 'status' ? await s.control.powerState(name) : await s.control.setPower(name, action as PowerRequest, { timeoutMs }, who());
        if (o.json) return printJson(result);
        process.stdout.write(`${result.name}: power ${result.powerState}\n`);
      });
    });
}

/** anvil machine bootdev NAME [DEVICE]: sets or shows the boot device. */
function bootdevCommand(root: Command): void {
  root
    .command('bootdev')
    .description('Set the device a machine boots from (next boot only unless --persistent), or show it')
    .argument('<name>', 'machine name or MAC')
    .argument('[device]', BOOT_DEVICES.join('|'))
    .option('--persistent', 'for every boot, not only the next one')
    .option('--uefi', 'boot in UEFI mode')
    .action(async (name: string, device: string | undefined, opts: { persistent?: boolean; uefi?: boolean }, c: Command) => {
      if (device !== undefined && !BOOT_DEVICES.includes(device as BootDevice))
        throw new UsageError(`unknown boot device '${device}'; use ${BOOT_DEVICES.join(', ')}`);
      await withServices(c, async (s, o) => {
        const result =
          device === undefined
            ? await s.control.bootDevice(name)
            : await s.control.setBootDevice(name, device as BootDevice, { persistent: opts.persistent === true, uefi: opts.uefi === true }, who());
        if (o.json) return printJson(result);
        const mode = `${result.persistent ? 'persistent' : 'next boot only'}${result.uefi ? ', UEFI' : ''}`;
        process.stdout.write(`${result.name}: boot device ${result.device ?? 'none (firmware order)'} (${mode})\n`);
      });
    });
}

/** anvil machine set NAME: the machine's driver and driver_info, secrets from a file or the environment. */
function setCommand(root: Command): void {
  root
    .command('set')
    .description("Set a machine's driver and driver_info, or its properties; fields merge into what is stored (key= removes one)")
    .argument('<name>', 'machine name or MAC')
    .option('--driver <driver>', 'ipmi, amt, redfish, manual or fake')
    .option('--driver-info <k=v,...>', 'fields, e.g. ipmi_address=10.0.0.5,ipmi_username=admin')
    .option('--password-file <file>', "read the driver's password (ipmi_password, amt_password, redfish_password) from the first line of FILE ('-': stdin)")
    .option('--password-env <var>', "take the driver's password from environment variable VAR")
    .option('--replace', 'replace driver_info as a whole instead of merging')
    .option('--property <k=v,...>', "how anvil reaches the machine's OS: address, ssh_port, ssh_user, login_home (key= removes one)")
    .action(
      async (
        name: string,
        opts: { driver?: string; driverInfo?: string; passwordFile?: string; passwordEnv?: string; replace?: boolean; property?: string },
        c: Command,
      ) => {
        const info: Record<string, string | null> = opts.driverInfo ? parseDriverInfo(opts.driverInfo) : {};
        const secret = readSecret(opts.passwordFile, opts.passwordEnv);
        await withServices(c, async (s, o) => {
          if (opts.property !== undefined) {
            const properties = await s.properties.set(await s.machines.find(name), parseDriverInfo(opts.property));
            if (opts.driver === undefined && opts.driverInfo === undefined && secret === undefined) {
              if (o.json) return printJson({ name, properties });
              return void process.stdout.write(`${name}: properties ${JSON.stringify(properties)}\n`);
            }
          }
          if (secret !== undefined) {
            const driver = opts.driver ?? (await s.machines.find(name)).driver;
            info[`${driver}_password`] = secret;
          }
          const view = await s.control.configure(name, { driver: opts.driver, driverInfo: info, replace: opts.replace === true }, who());
          if (o.json) return printJson(view);
          process.stdout.write(`${view.name}: driver ${view.driver}\n`);
        });
      },
    );
}

/** anvil machine show NAME: driver, driver_info (passwords masked), power, maintenance, lock. */
function showCommand(root: Command): void {
  root
    .command('show')
    .description("A machine's driver, driver_info (passwords masked), power state, maintenance and lock")
    .argument('<name>', 'machine name or MAC')
    .action(async (name: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        const view = await s.control.show(name);
        if (o.json) return printJson(view);
        const lines = [
          `name:         ${view.name}`,
          `driver:       ${view.driver}`,
          ...Object.entries(view.driverInfo)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => `  ${k}: ${String(v)}`),
          `power:        ${view.powerState}`,
          `maintenance:  ${view.maintenance ? `yes (${view.maintenanceReason ?? 'no reason given'})` : 'no'}`,
          `locked by:    ${view.reservation ?? '-'}`,
          `properties:   ${
            Object.entries(view.properties)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(', ') || '-'
          }`,
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}

/** anvil machine events NAME: power changes, maintenance and controller failures, newest first. */
function eventsCommand(root: Command): void {
  root
    .command('events')
    .description("A machine's power changes, maintenance and controller failures, newest first")
    .argument('<name>', 'machine name or MAC')
    .option('--limit <n>', 'how many', '50')
    .action(async (name: string, opts: { limit: string }, c: Command) =>
      withServices(c, async (s, o) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit '${opts.limit}' must be a positive integer`);
        const events = await s.control.events(name, limit);
        if (o.json) return printJson(events);
        process.stdout.write(
          table(
            ['AT', 'KIND', 'MESSAGE'],
            events.map((e) => [when(e.at), e.kind, e.message]),
          ) + '\n',
        );
      }),
    );
}

/** anvil machine unlock NAME: breaks a lock left by a crashed process. */
function unlockCommand(root: Command): void {
  root
    .command('unlock')
    .description('Break a lock left by a crashed process')
    .argument('<name>', 'machine name or MAC')
    .action(async (name: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        const machine = await s.machines.find(name);
        const released = await s.control.locks.breakLock(machine);
        if (o.json) return printJson({ name: machine.name, released });
        process.stdout.write(released ? `${machine.name}: released the lock held by ${released}\n` : `${machine.name}: was not locked\n`);
      }),
    );
}

/** anvil machine discovered: the unknown machines seen booting. */
function discoveredCommand(root: Command): void {
  root
    .command('discovered')
    .description('Machines seen booting that anvil does not know, newest first; enroll one with: bin/pxemngr addsystem NAME MAC')
    .action(async (_o, c: Command) =>
      withServices(c, async (s, o) => {
        const found = await s.discovered.list();
        if (o.json) return printJson(found);
        if (found.length === 0) return void process.stdout.write('no unknown machine has asked to boot\n');
        process.stdout.write(
          table(
            ['MAC', 'ARCH', 'LOADER', 'ADDRESS', 'FIRST SEEN', 'LAST SEEN', 'BOOTS'],
            found.map((d) => [d.mac, d.arch ?? '-', d.loader ?? '-', d.address ?? '-', when(d.first_seen), when(d.last_seen), String(d.boots)]),
          ) + '\n',
        );
      }),
    );
}

/** anvil machine forget MAC: drops a MAC from the discovered machines. */
function forgetCommand(root: Command): void {
  root
    .command('forget')
    .description('Drop a MAC from the discovered machines (it comes back if it boots again)')
    .argument('<mac>', 'the MAC, in any notation')
    .action(async (mac: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        const forgotten = await s.discovered.forget(mac);
        if (o.json) return printJson({ mac, forgotten });
        if (!forgotten) throw notFound('UNKNOWN_DISCOVERED', `${mac} is not among the discovered machines (bin/anvil machine discovered lists them)`);
        process.stdout.write(`${mac}: forgotten\n`);
      }),
    );
}

export async function run(argv: string[]): Promise<number> {
  return runProgram(buildMachine(), argv, 'anvil machine');
}
