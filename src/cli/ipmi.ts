// `anvil ipmi`: talk to BMCs the way ipmitool does (same options, same output), plus
// --json, and fleets: a host range (-H 'node[1-100]', 'a,b:6230') runs one command on every
// BMC at once over one UDP socket and prints one line per host, as FreeIPMI's ipmipower.
import { readFileSync } from 'node:fs';
import { IpmiClient } from '../protocols/ipmi/client/client.ts';
import type { Bmc } from '../protocols/ipmi/client/bmc.ts';
import type { BmcTarget } from '../protocols/ipmi/client/options.ts';
import { BootDevice, chassisControl } from '../protocols/ipmi/commands/chassis.ts';
import { IpmiCommandError } from '../protocols/ipmi/client/errors.ts';
import type { BootDeviceName, PowerAction } from '../protocols/ipmi/commands/chassis.ts';
import type { PrivilegeLevel } from '../protocols/ipmi/constants.ts';
import { UsageError } from './command.ts';
import { expandHosts, hostLabel } from './ipmi-hosts.ts';
import type { HostPort } from './ipmi-hosts.ts';
import {
  bootParamLines,
  selInfoLines,
  chassisStatusLines,
  fruLines,
  guidLines,
  mcInfoLines,
  rawLines,
  sdrListLines,
  selLines,
  sensorListLines,
  userListLines,
} from './ipmi-format.ts';
import { lanPrint } from './ipmi-lan.ts';
import { solActivate, solDeactivate } from './ipmi-sol.ts';

/** BMCs worked on at once in fleet mode (-F); more only adds retries as the socket buffer overflows. */
export const DEFAULT_FANOUT = 1024;

const HELP = `Usage: anvil ipmi [options] <command> [arguments]

Talks to BMCs over IPMI-over-LAN like ipmitool: same options, same output.
With a host list (-H 'node[1-100]' or -H a,b,c, each host optionally :port) the
command runs on every BMC concurrently and prints one line per host (ipmipower style).

Options:
  -I lan|lanplus   interface: IPMI 1.5 (lan) or IPMI 2.0 RMCP+ (lanplus, default)
  -H host[s]       BMC address, or an ipmipower host list: 'node[1-100]', 'a,b:6230'
  -p port          UDP port (default 623)
  -U user          user name
  -P password      password (visible to other local users: prefer -E or -f)
  -E               read the password from the IPMI_PASSWORD environment variable
  -f file          read the password from the first line of file
  -C suite         RMCP+ cipher suite (default: ask the BMC; 17, 3, ...)
  -L level         privilege: CALLBACK, USER, OPERATOR, ADMINISTRATOR (default)
  -A type          IPMI 1.5 authentication: MD5, PASSWORD, NONE
  -k key           Kg key, as text;  -y hexkey  Kg key in hex;  -K  Kg from IPMI_KGKEY
  -N seconds       timeout of the first try (default 1); each retry waits longer
  -R count         retries (default 3)
  -F fanout        fleet mode: BMCs worked on at once (default ${DEFAULT_FANOUT})
  --json           machine-readable output
  -h, --help       this text

Commands:
  power status|on|off|cycle|reset|soft|diag
  chassis status
  chassis power status|on|off|cycle|reset|soft|diag
  chassis bootdev none|pxe|disk|safe|diag|cdrom|bios|floppy [options=persistent,efiboot,clear-cmos]
  chassis bootparam get <param>
  chassis identify [seconds|force]
  mc info | mc guid | mc reset warm|cold
  user list [channel]
  sdr list | sensor list
  sel list | sel elist | sel clear | sel info
  fru print [id]
  lan print [channel]
  raw <netfn> <cmd> [data bytes...]
  sol activate | sol deactivate      (console: ~. leaves, ~B sends a break, ~? helps)

Fleet mode supports: power *, chassis status, chassis bootdev, mc info, mc reset, raw.
Exit status: 0 when every host succeeded, 1 otherwise, 2 for bad usage.`;

interface Options {
  iface: 'lan' | 'lanplus';
  hosts?: string;
  port?: number;
  user: string;
  password?: string;
  cipherSuite?: number;
  privilege?: PrivilegeLevel;
  authType?: 'md5' | 'password' | 'none';
  kg?: string | Uint8Array;
  timeoutMs?: number;
  retries?: number;
  fanout: number;
  json: boolean;
  help: boolean;
  words: string[];
}

const PRIVILEGES: Readonly<Record<string, PrivilegeLevel>> = { CALLBACK: 1, USER: 2, OPERATOR: 3, ADMINISTRATOR: 4, ADMIN: 4, OEM: 5 };

function parse(argv: string[]): Options {
  const o: Options = { iface: 'lanplus', user: '', fanout: DEFAULT_FANOUT, json: false, help: false, words: [] };
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const int = (text: string, flag: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} wants a number from ${min} to ${max}, not '${text}'`);
    return n;
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') break;
    switch (a) {
      case '-I': {
        const v = value(++i, a);
        if (v !== 'lan' && v !== 'lanplus') throw new UsageError(`interface '${v}' is not supported: use lan or lanplus`);
        o.iface = v;
        break;
      }
      case '-H':
        o.hosts = value(++i, a);
        break;
      case '-p':
        o.port = int(value(++i, a), a, 1, 65535);
        break;
      case '-U':
        o.user = value(++i, a);
        break;
      case '-P':
        o.password = value(++i, a);
        break;
      case '-E': {
        const v = process.env.IPMI_PASSWORD ?? process.env.IPMITOOL_PASSWORD;
        if (v === undefined) throw new UsageError('-E given but IPMI_PASSWORD is not set');
        o.password = v;
        break;
      }
      case '-f': {
        const file = value(++i, a);
        try {
          o.password = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
        } catch (error) {
          throw new UsageError(`cannot read password file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
        }
        break;
      }
      case '-C':
        o.cipherSuite = int(value(++i, a), a, 0, 255);
        break;
      case '-L': {
        const v = value(++i, a).toUpperCase();
        const level = PRIVILEGES[v];
        if (level === undefined) throw new UsageError(`privilege level '${v}' is not one of CALLBACK, USER, OPERATOR, ADMINISTRATOR`);
        o.privilege = level;
        break;
      }
      case '-A': {
        const v = value(++i, a).toLowerCase();
        if (v !== 'md5' && v !== 'password' && v !== 'none') throw new UsageError(`authentication type '${v}' is not one of MD5, PASSWORD, NONE`);
        o.authType = v;
        break;
      }
      case '-k':
        o.kg = value(++i, a);
        break;
      case '-y': {
        const v = value(++i, a).replace(/^0x/i, '');
        if (!/^([0-9a-f]{2}){1,20}$/i.test(v)) throw new UsageError('-y wants up to 20 bytes of hex');
        o.kg = Buffer.from(v, 'hex');
        break;
      }
      case '-K': {
        const v = process.env.IPMI_KGKEY;
        if (v === undefined) throw new UsageError('-K given but IPMI_KGKEY is not set');
        o.kg = v;
        break;
      }
      case '-N': {
        const n = Number(value(++i, a));
        if (!(n > 0 && n <= 600)) throw new UsageError('-N wants seconds, more than 0');
        o.timeoutMs = Math.round(n * 1000);
        break;
      }
      case '-R':
        o.retries = int(value(++i, a), a, 0, 100);
        break;
      case '-F':
        o.fanout = int(value(++i, a), a, 1, 1_000_000);
        break;
      case '--json':
        o.json = true;
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new UsageError(`unknown option ${a}`);
    }
  }
  o.words = argv.slice(i);
  const jsonAt = o.words.indexOf('--json');
  if (jsonAt >= 0) {
    o.json = true;
    o.words.splice(jsonAt, 1);
  }
  return o;
}

type Output = { lines: string[]; json: unknown; code?: number };
type Runner = (bmc: Bmc) => Promise<Output>;

const POWER_WORDS: Readonly<Record<string, string>> = { on: 'Up/On', off: 'Down/Off', cycle: 'Cycle', reset: 'Reset', soft: 'Soft', diag: 'Diag' };

function powerRunner(action: string | undefined): Runner {
  if (action === undefined || action === 'status') {
    return async (bmc) => {
      const state = await bmc.getPowerState();
      return { lines: [`Chassis Power is ${state}`], json: { power: state } };
    };
  }
  if (!(action in POWER_WORDS)) throw new UsageError(`power ${action}: expected status, on, off, cycle, reset, soft or diag`);
  return async (bmc) => {
    // ipmitool sends the control unconditionally; so do we (no state read), and never twice.
    await bmc.send(chassisControl(action as PowerAction));
    return { lines: [`Chassis Power Control: ${POWER_WORDS[action]}`], json: { action, ok: true } };
  };
}

function hexByte(text: string): number {
  const n = Number(text.startsWith('0x') || text.startsWith('0X') ? text : /^[0-9a-f]+$/i.test(text) && /[a-f]/i.test(text) ? '0x' + text : text);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new UsageError(`'${text}' is not a byte (0-255 or 0x00-0xff)`);
  return n;
}

/** The runner for a command line; fleet tells which commands may run on many hosts. */
function runnerFor(words: string[]): { run: Runner; fleet: boolean; shortForm?: (o: Output) => string } {
  const [group, sub, ...rest] = words;
  switch (group) {
    case 'power':
      return { run: powerRunner(sub), fleet: true, shortForm: (o) => (o.json as { power?: string }).power ?? 'ok' };
    case 'chassis':
      if (sub === 'power') return { run: powerRunner(rest[0]), fleet: true, shortForm: (o) => (o.json as { power?: string }).power ?? 'ok' };
      if (sub === 'status')
        return {
          run: async (b) => {
            const s = await b.chassisStatus();
            return { lines: chassisStatusLines(s), json: s };
          },
          fleet: true,
          shortForm: (o) => ((o.json as { powerOn: boolean }).powerOn ? 'on' : 'off'),
        };
      if (sub === 'bootdev') {
        const device = rest[0];
        if (!device || !(device in BootDevice)) throw new UsageError(`chassis bootdev: device must be one of ${Object.keys(BootDevice).join(', ')}`);
        const opts = (rest.find((r) => r.startsWith('options=')) ?? 'options=').slice('options='.length).split(',').filter(Boolean);
        for (const opt of opts)
          if (!['persistent', 'efiboot', 'clear-cmos'].includes(opt))
            throw new UsageError(`chassis bootdev: unknown option '${opt}' (persistent, efiboot, clear-cmos)`);
        return {
          fleet: true,
          run: async (b) => {
            await b.setBootDevice(device as BootDeviceName, {
              persistent: opts.includes('persistent'),
              efi: opts.includes('efiboot'),
              clearCmos: opts.includes('clear-cmos'),
            });
            return {
              lines: [`Set Boot Device to ${device}`],
              json: { bootdev: device, persistent: opts.includes('persistent'), efi: opts.includes('efiboot') },
            };
          },
        };
      }
      if (sub === 'bootparam' && rest[0] === 'get' && rest[1] !== undefined) {
        const param = hexByte(rest[1]);
        return {
          fleet: false,
          run: async (b) => {
            const r = await b.getBootParam(param);
            return { lines: bootParamLines(param, r), json: { ...r, data: Buffer.from(r.data).toString('hex') } };
          },
        };
      }
      if (sub === 'identify') {
        const arg = rest[0] ?? '15';
        const seconds = arg === 'force' ? 'force' : Number(arg);
        return {
          fleet: true,
          run: async (b) => {
            await b.identify(seconds);
            return {
              lines: [
                arg === 'force'
                  ? 'Chassis identify interval: indefinite'
                  : Number(arg) === 0
                    ? 'Chassis identify interval: off'
                    : `Chassis identify interval: ${arg} seconds`,
              ],
              json: { identify: arg },
            };
          },
        };
      }
      throw new UsageError('chassis: expected status, power, bootdev, bootparam get N or identify');
    case 'mc':
      if (sub === 'info')
        return {
          fleet: true,
          run: async (b) => {
            const d = await b.deviceId();
            return { lines: mcInfoLines(d), json: { ...d, auxFirmware: d.auxFirmware ? Buffer.from(d.auxFirmware).toString('hex') : undefined } };
          },
          shortForm: (o) => {
            const d = o.json as { firmwareMajor: number; firmwareMinor: number; manufacturerId: number };
            return `firmware ${d.firmwareMajor}.${String(d.firmwareMinor).padStart(2, '0')} manufacturer ${d.manufacturerId}`;
          },
        };
      if (sub === 'guid')
        return {
          fleet: false,
          run: async (b) => {
            const g = await b.guid();
            return { lines: guidLines(g), json: { guid: g } };
          },
        };
      if (sub === 'reset' && (rest[0] === 'warm' || rest[0] === 'cold')) {
        const kind = rest[0];
        return {
          fleet: true,
          run: async (b) => {
            await b.bmcReset(kind);
            return { lines: [`Sent ${kind} reset command to MC`], json: { reset: kind } };
          },
        };
      }
      throw new UsageError('mc: expected info, guid or reset warm|cold');
    case 'user':
      if (sub === 'list') {
        const channel = rest[0] !== undefined ? hexByte(rest[0]) : undefined;
        return {
          fleet: false,
          run: async (b) => {
            const users = await b.listUsers(channel);
            return { lines: userListLines(users), json: users };
          },
        };
      }
      throw new UsageError('user: expected list [channel]');
    case 'sdr':
    case 'sensor':
      if (sub === undefined || sub === 'list') {
        return {
          fleet: false,
          run: async (b) => {
            const sensors = await b.inventory.sensors();
            const thresholds = new Map();
            if (group === 'sensor')
              for (const s of sensors) if (s.record.type === 'full') thresholds.set(s.record.number, await b.inventory.thresholds(s.record.number));
            return {
              lines: group === 'sdr' ? sdrListLines(sensors) : sensorListLines(sensors, thresholds),
              json: sensors.map((s) => ({
                name: s.record.name,
                number: s.record.number,
                value: s.value ?? null,
                status: s.status,
                raw: s.reading?.raw ?? null,
              })),
            };
          },
        };
      }
      throw new UsageError(`${group}: expected list`);
    case 'sel':
      if (sub === 'list' || sub === 'elist' || sub === undefined) {
        return {
          fleet: false,
          run: async (b) => {
            const records = await b.inventory.selEntries();
            const sdrs = sub === 'elist' ? await b.inventory.sdrRecords() : undefined;
            return { lines: records.length === 0 ? ['SEL has no entries'] : selLines(records, sdrs), json: records };
          },
        };
      }
      if (sub === 'clear')
        return {
          fleet: true,
          run: async (b) => {
            await b.inventory.clearSel();
            return { lines: ['Clearing SEL.  Please allow a few seconds to erase.'], json: { cleared: true } };
          },
        };
      if (sub === 'info')
        return {
          fleet: false,
          run: async (b) => {
            const i = await b.inventory.selInfo();
            return { lines: selInfoLines(i), json: i };
          },
        };
      throw new UsageError('sel: expected list, elist, clear or info');
    case 'fru':
      if (sub === undefined || sub === 'print') {
        const id = rest[0] !== undefined ? hexByte(rest[0]) : 0;
        return {
          fleet: false,
          run: async (b) => {
            const f = await b.inventory.fru(id);
            return { lines: fruLines(id, f), json: f };
          },
        };
      }
      throw new UsageError('fru: expected print [id]');
    case 'lan':
      if (sub === 'print') {
        const channel = rest[0] !== undefined ? hexByte(rest[0]) : undefined;
        return {
          fleet: false,
          run: async (b) => {
            const r = await lanPrint(b, channel);
            return { lines: r.lines, json: r.values };
          },
        };
      }
      throw new UsageError('lan: expected print [channel]');
    case 'raw': {
      if (sub === undefined || rest[0] === undefined) throw new UsageError('raw: expected <netfn> <cmd> [data...]');
      const netFn = hexByte(sub);
      const cmd = hexByte(rest[0]);
      const data = rest.slice(1).map(hexByte);
      return {
        fleet: true,
        run: async (b) => {
          const res = await b.raw(netFn, cmd, data);
          if (res.completionCode !== 0) {
            const e = new IpmiCommandError(b.host, 'raw command', netFn, cmd, res.completionCode);
            e.message = `Unable to send RAW command (channel=0x0 netfn=0x${netFn.toString(16)} lun=0x0 cmd=0x${cmd.toString(16)} rsp=0x${res.completionCode.toString(16)}): ${e.message.replace(/^.*failed: /, '')}`;
            throw e;
          }
          return { lines: rawLines(res.data), json: { completionCode: 0, data: Buffer.from(res.data).toString('hex') } };
        },
        shortForm: (o) => (o.json as { data: string }).data || 'ok',
      };
    }
    case 'sol':
      if (sub === 'activate')
        return {
          fleet: false,
          run: async (b) => {
            const code = await solActivate(b);
            return { lines: [], json: null, code };
          },
        };
      if (sub === 'deactivate')
        return {
          fleet: false,
          run: async (b) => {
            await solDeactivate(b);
            return { lines: [], json: { deactivated: true } };
          },
        };
      throw new UsageError('sol: expected activate or deactivate');
    default:
      throw new UsageError(group === undefined ? 'no command given' : `unknown command '${group}'`);
  }
}

function targetFor(o: Options, h: HostPort): BmcTarget {
  return {
    host: h.host,
    port: h.port ?? o.port ?? 623,
    user: o.user,
    password: o.password ?? '',
    protocol: o.iface,
    ...(o.kg !== undefined ? { kg: o.kg } : {}),
    ...(o.privilege !== undefined ? { privilege: o.privilege } : {}),
    ...(o.cipherSuite !== undefined ? { cipherSuite: o.cipherSuite } : {}),
    ...(o.authType !== undefined ? { authType: o.authType } : {}),
  };
}

/** A fleet line's error: the message without its leading "host: " (the line starts with the host already). */
function errorText(error: unknown): string {
  const e = error as { message?: string; code?: unknown; host?: unknown };
  let message = e.message ?? String(error);
  if (typeof e.host === 'string' && message.startsWith(`${e.host}: `)) message = message.slice(e.host.length + 2);
  return `${message}${typeof e.code === 'string' ? ` [${e.code}]` : ''}`;
}

export async function run(argv: string[]): Promise<number> {
  const o = parse(argv);
  if (o.help || o.words[0] === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (o.hosts === undefined) throw new UsageError('no BMC given: use -H host (or a host list)');
  const hosts = expandHosts(o.hosts);
  const command = runnerFor(o.words);
  if (o.password === undefined) throw new UsageError('no password: use -E (IPMI_PASSWORD), -f FILE or -P PASSWORD');
  const client = new IpmiClient({
    policy: { ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), ...(o.retries !== undefined ? { retries: o.retries } : {}) },
  });
  try {
    if (hosts.length === 1 && !o.hosts.includes(',') && !o.hosts.includes('[')) {
      const out = await command.run(client.bmc(targetFor(o, hosts[0]!)));
      if (o.json) process.stdout.write(JSON.stringify(out.json, jsonBytes, 2) + '\n');
      else if (out.lines.length > 0) process.stdout.write(out.lines.join('\n') + '\n');
      return out.code ?? 0;
    }
    if (!command.fleet)
      throw new UsageError(
        `'${o.words.join(' ')}' runs on one BMC at a time; fleet mode supports power, chassis status/bootdev/identify, mc info/reset, sel clear and raw`,
      );
    return await runFleet(client, o, hosts, command);
  } finally {
    await client.close();
  }
}

/** Runs the command on every host, at most `fanout` at once, printing each host's line as it finishes. */
async function runFleet(client: IpmiClient, o: Options, hosts: HostPort[], command: ReturnType<typeof runnerFor>): Promise<number> {
  let failures = 0;
  let next = 0;
  const results: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < hosts.length) {
      const h = hosts[next++]!;
      const label = hostLabel(h);
      const bmc = client.bmc(targetFor(o, h));
      try {
        const out = await command.run(bmc);
        if (o.json) results.push({ host: label, ok: true, result: out.json });
        else process.stdout.write(`${label}: ${command.shortForm ? command.shortForm(out) : 'ok'}\n`);
      } catch (error) {
        failures++;
        if (o.json) results.push({ host: label, ok: false, error: (error as Error).message, code: (error as { code?: string }).code });
        else process.stdout.write(`${label}: ${errorText(error)}\n`);
      } finally {
        // Close each session as soon as its host is done: BMC session slots are few.
        await bmc.session.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.fanout, hosts.length) }, worker));
  if (o.json) process.stdout.write(JSON.stringify(results, jsonBytes) + '\n');
  return failures === 0 ? 0 : 1;
}

function jsonBytes(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}
