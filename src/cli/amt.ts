// `anvil amt`: controls an Intel AMT machine the way amttool does, with the same commands,
// confirmation prompt and output, over WS-Management or the legacy SOAP services.
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { AMT_DEFAULTS, AMT_HTTPS_PORT, AmtClient, AmtFailure, BOOT_DEVICES, PT_STATUS_OF_CIM_RETURN, ptStatusMessage } from '../protocols/amt/index.ts';
import type { AmtBootDevice, AmtInfo, AmtPowerAction, AmtPowerState } from '../protocols/amt/index.ts';
import { UsageError } from './command.ts';

const HELP = `Usage: anvil amt HOST[:PORT] [command] [boot-device] [options]

Controls an Intel AMT machine like amttool: same commands, prompt and output. Speaks
WS-Management (AMT 6+) or the legacy SOAP services (before AMT 9); by default it tries
WS-Management first and falls back to SOAP. Port 16993 means HTTPS, as for amttool.

Commands:
  info            print some machine info (default)
  reset           reset machine
  powerup         turn on machine
  powerdown       turn off machine
  powercycle      powercycle machine
Boot devices, for the next boot only (reset, powerup, powercycle):
  pxe hd hdsafe cd diag bios

Options:
  --user U              user name (default admin)
  --password-file F     read the password from the first line of F (default: AMT_PASSWORD)
  -y, --yes             do not ask for confirmation (amttool users pipe "y" instead; that works too)
  --wsman | --soap      use only this protocol
  --https               use HTTPS whatever the port
  --allow-self-signed   accept a self-signed HTTPS certificate
  --json                print the result as JSON (power commands then need --yes)
  --timeout S           give up on a request to AMT after S seconds in all, retries included
                        (default ${AMT_DEFAULTS.deadlineMs / 1000}; each attempt waits at most ${AMT_DEFAULTS.connectTimeoutMs / 1000} s to connect and
                        ${AMT_DEFAULTS.requestTimeoutMs / 1000} s for the answer, up to ${AMT_DEFAULTS.connectAttempts} attempts)
  -h, --help            this help

Environment: AMT_PASSWORD  the AMT password (never put it on the command line).
Exit status: 0 done (or canceled at the prompt), 1 AMT refused or could not be reached, 2 usage.`;

const COMMANDS: Readonly<Record<string, AmtPowerAction | 'info'>> = {
  info: 'info',
  reset: 'reset',
  powerup: 'on',
  powerdown: 'off',
  powercycle: 'cycle',
};

/** amttool's Powerstate text for a WS-Man power state (ACPI S-states, as AMT's SOAP side reports them). */
const S_STATE: Readonly<Record<AmtPowerState, string>> = {
  on: 'S0',
  sleep: 'S3',
  hibernate: 'S4',
  off: 'S5 (soft-off)',
  unknown: 'Off',
};

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        user: { type: 'string' },
        'password-file': { type: 'string' },
        yes: { type: 'boolean', short: 'y' },
        wsman: { type: 'boolean' },
        soap: { type: 'boolean' },
        https: { type: 'boolean' },
        'allow-self-signed': { type: 'boolean' },
        json: { type: 'boolean' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const o = parsed.values;
  if (o.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [target, commandName = 'info', bootArg, ...extra] = parsed.positionals;
  if (target === undefined) throw new UsageError('no host given');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const command = COMMANDS[commandName];
  if (command === undefined) throw new UsageError(`unknown command: ${commandName}`);
  if (o.wsman && o.soap) throw new UsageError('--wsman and --soap exclude each other');
  let bootDevice: AmtBootDevice | undefined;
  if (bootArg !== undefined) {
    if (command === 'info' || command === 'off') throw new UsageError(`${commandName} takes no boot device`);
    if (bootArg !== 'nop') {
      if (!BOOT_DEVICES.includes(bootArg as AmtBootDevice)) throw new UsageError(`unknown boot device '${bootArg}' (one of nop, ${BOOT_DEVICES.join(', ')})`);
      bootDevice = bootArg as AmtBootDevice;
    }
  }
  const deadlineMs = o.timeout === undefined ? AMT_DEFAULTS.deadlineMs : seconds(o.timeout, '--timeout') * 1000;
  if (o.json && command !== 'info' && !o.yes) throw new UsageError('--json with a power command needs --yes (a prompt would spoil the JSON)');

  const { host, port } = splitTarget(target);
  const password = o['password-file'] !== undefined ? await readPasswordFile(o['password-file']) : process.env['AMT_PASSWORD'];
  if (password === undefined) throw new UsageError('no password: set AMT_PASSWORD (or give --password-file)');
  const client = new AmtClient(
    {
      host,
      password,
      ...(port !== undefined ? { port } : {}),
      scheme: o.https || port === AMT_HTTPS_PORT ? 'https' : 'http',
      ...(o.user !== undefined ? { user: o.user } : {}),
      allowSelfSigned: o['allow-self-signed'] === true,
    },
    { protocol: o.wsman ? 'wsman' : o.soap ? 'soap' : 'auto', deadlineMs },
  );
  try {
    if (command === 'info') return await info(client, host, o.json === true);
    return await powerCommand(client, host, commandName, command, bootDevice, { yes: o.yes === true, json: o.json === true });
  } finally {
    client.close();
  }
}

/** A positive number of seconds (fractions allowed), at most an hour. */
function seconds(text: string, name: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || n <= 0 || n > 3600) throw new UsageError(`${name} takes seconds, more than 0 and at most 3600, not '${text}'`);
  return n;
}

function splitTarget(target: string): { host: string; port: number | undefined } {
  // amttool's own rule: HOST:PORT with a numeric port; a bare IPv6 address may be given in brackets.
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(target);
  const plain = /^([^:]+):(\d+)$/.exec(target);
  const match = bracketed ?? plain;
  if (!match) return { host: target, port: undefined };
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new UsageError(`port must be 1-65535, not ${match[2]}`);
  return { host: match[1] ?? target, port };
}

async function info(client: AmtClient, host: string, json: boolean): Promise<number> {
  const i: AmtInfo = await client.info();
  if (json) {
    process.stdout.write(`${JSON.stringify({ host, ...i }, null, 2)}\n`);
    return 0;
  }
  // print_general_info and print_remote_info of amttool, byte for byte.
  let out = `### AMT info on machine '${host}' ###\n`;
  out += `AMT version:  ${i.version}\n`;
  if (i.hostname !== undefined) out += `Hostname:     ${i.hostname}.${i.domain ?? ''}\n`;
  out += `Powerstate:   ${i.powerStateText ?? S_STATE[i.powerState]}\n`;
  const c = i.capabilities;
  if (c !== undefined) {
    const flags = (value: number, names: Array<[number, string]>): string => names.map(([bit, name]) => (value & bit ? `${name} ` : '')).join('');
    out += 'Remote Control Capabilities:\n';
    out += `    IanaOemNumber                   ${c.ianaOemNumber.toString(16)}\n`;
    out += `    OemDefinedCapabilities          ${flags(c.oemDefinedCapabilities, [
      [0x01, 'IDER'],
      [0x02, 'SOL'],
      [0x04, 'BiosReflash'],
      [0x08, 'BiosSetup'],
      [0x10, 'BiosPause'],
    ])}\n`;
    out += `    SpecialCommandsSupported        ${flags(c.specialCommandsSupported, [
      [0x0100, 'PXE-boot'],
      [0x0200, 'HD-boot'],
      [0x0400, 'HD-boot-safemode'],
      [0x0800, 'diag-boot'],
      [0x1000, 'cd-boot'],
    ])}\n`;
    // amttool tests powerup with mask 0x03, so it shows whenever powercycle or powerdown does.
    out += `    SystemCapabilitiesSupported     ${flags(c.systemCapabilitiesSupported, [
      [0x01, 'powercycle'],
      [0x02, 'powerdown'],
      [0x03, 'powerup'],
      [0x04, 'reset'],
    ])}\n`;
    out += `    SystemFirmwareCapabilities      ${c.systemFirmwareCapabilities.toString(16)}\n`;
  }
  process.stdout.write(out);
  return 0;
}

async function powerCommand(
  client: AmtClient,
  host: string,
  name: string,
  action: AmtPowerAction,
  bootDevice: AmtBootDevice | undefined,
  o: { yes: boolean; json: boolean },
): Promise<number> {
  const protocol = await client.protocol();
  if (!o.json) {
    // amttool names the machine by the host and domain name AMT was given.
    const names =
      protocol === 'soap' ? { hostname: await client.soap.getHostName(), domain: await client.soap.getDomainName() } : await client.wsman.getHostName();
    const label = `${names.hostname}.${names.domain}`;
    process.stdout.write(`host ${label}, ${name} [y/N] ? `);
    if (!o.yes) {
      const reply = await readLine();
      if (reply === undefined || !/^(y|yes)$/i.test(reply.trim())) {
        process.stdout.write('canceled\n');
        return 0;
      }
    }
    process.stdout.write(`execute: ${name}\n`);
  }
  client.setNextBoot(bootDevice);
  try {
    await client.setPowerState(action);
  } catch (error) {
    if (!(error instanceof AmtFailure) || o.json) throw error;
    process.stdout.write(`result: ${resultText(protocol, error)}\n`);
    return 1;
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ host, protocol, command: name, bootDevice: bootDevice ?? null, result: 'success' })}\n`);
  else process.stdout.write(`result: ${ptStatusMessage(0)}\n`);
  return 0;
}

/**
 * amttool's result line for a refusal: SOAP's PT_STATUS, or over WS-Man the PT_STATUS of the same
 * refusal (a ReturnValue without one, or a fault, is said as such).
 */
function resultText(protocol: 'wsman' | 'soap', error: AmtFailure): string {
  if (protocol === 'soap') return ptStatusMessage(error.returnValue);
  const status = error.returnValue === undefined ? undefined : PT_STATUS_OF_CIM_RETURN[error.returnValue];
  if (status !== undefined) return ptStatusMessage(status);
  return error.returnValue !== undefined ? `ReturnValue ${error.returnValue}` : `fault ${error.faultCode ?? 'unknown'}`;
}

/** One line from stdin, or undefined at end of input (amttool's `<>`). */
function readLine(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, terminal: false });
    let answered = false;
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    rl.once('close', () => {
      if (!answered) resolve(undefined);
    });
  });
}

async function readPasswordFile(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read --password-file ${path}: ${error.code ?? error.message}`);
  });
  return text.split(/\r?\n/)[0] ?? '';
}
