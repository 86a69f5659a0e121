// `anvil ipmi`: talk to BMCs the way ipmitool does (same options, same output), plus
// --json, and fleets: a host range (-H 'node[1-100]', 'a,b:6230') runs one command on every
// BMC at once over one UDP socket and prints one line per host, as FreeIPMI's ipmipower.
import { readFileSync } from 'node:fs';
import { IpmiClient } from '../protocols/ipmi/client/client.ts';
import type { BmcTarget } from '../protocols/ipmi/client/options.ts';
import type { PrivilegeLevel } from '../protocols/ipmi/constants.ts';
import { UsageError } from './command.ts';
import { writeStdout } from './output.ts';
import { promptSecret } from './password.ts';
import { commandFor, commandHelp } from './ipmi-commands.ts';
import type { IpmiCommand } from './ipmi-commands.ts';
import { expandHosts, hostLabel } from './ipmi-hosts.ts';
import type { HostPort } from './ipmi-hosts.ts';

/** BMCs worked on at once in fleet mode (-F); more only adds retries as the socket buffer overflows. */
export const DEFAULT_FANOUT = 1024;

/** The usage text; a function, so that a run that does not ask for it does not build the command list. */
const help = (): string => `Usage: anvil ipmi [options] <command> [arguments]

Talks to BMCs over IPMI-over-LAN like ipmitool: same options, same output.
With a host list (-H 'node[1-100]' or -H a,b,c, each host optionally :port) the
command runs on every BMC concurrently and prints one line per host (ipmipower style).

Options:
  -I lan|lanplus   interface: IPMI 1.5 (lan) or IPMI 2.0 RMCP+ (lanplus, default)
  -H host[s]       BMC address, or an ipmipower host list: 'node[1-100]', 'a,b:6230'
  -p port          UDP port (default 623)
  -U user          user name
  -P password      password (visible to other local users: prefer -E or -f)
  -a               ask for the password (on the terminal, or the first line of stdin)
  -E               read the password from the IPMI_PASSWORD environment variable
  -f file          read the password from the first line of file
  -C suite         RMCP+ cipher suite (default: ask the BMC; 17, 3, ...)
  -L level         privilege: CALLBACK, USER, OPERATOR, ADMINISTRATOR (default)
  -A type          IPMI 1.5 authentication: MD5, PASSWORD, NONE
  -k key           Kg key, as text;  -y hexkey  Kg key in hex;  -K  Kg from IPMI_KGKEY
  -N seconds       timeout of the first try (default 1); each retry waits longer
  -R count         retries (default 3)
  -F fanout        fleet mode: BMCs worked on at once (default ${DEFAULT_FANOUT})
  -c               CSV output (sdr list/elist, sensor list/get, sel get, session info, sol info), as ipmitool -c
  --json           machine-readable output
  -h, --help       this text

Commands:
${commandHelp()}

Fleet mode supports: power *, chassis status, bootdev, identify and policy, mc info, mc reset, sel clear, raw.
Exit status: 0 when every host succeeded, 1 otherwise, 2 for bad usage.`;

interface Options {
  iface: 'lan' | 'lanplus';
  hosts?: string;
  port?: number;
  user: string;
  password?: string;
  askPassword: boolean;
  cipherSuite?: number;
  privilege?: PrivilegeLevel;
  authType?: 'md5' | 'password' | 'none';
  kg?: string | Uint8Array;
  timeoutMs?: number;
  retries?: number;
  fanout: number;
  json: boolean;
  csv: boolean;
  help: boolean;
  words: string[];
}

const PRIVILEGES: Readonly<Record<string, PrivilegeLevel>> = { CALLBACK: 1, USER: 2, OPERATOR: 3, ADMINISTRATOR: 4, ADMIN: 4, OEM: 5 };

/** The words after a flag: its value, which a flag without one says it needs. */
interface FlagValue {
  text(): string;
  int(min: number, max: number): number;
}

/** ipmitool's options, and what each does to ours. */
const FLAGS: ReadonlyMap<string, (o: Options, value: FlagValue) => void> = new Map<string, (o: Options, value: FlagValue) => void>([
  [
    '-I',
    (o, value) => {
      const v = value.text();
      if (v !== 'lan' && v !== 'lanplus') throw new UsageError(`interface '${v}' is not supported: use lan or lanplus`);
      o.iface = v;
    },
  ],
  ['-H', (o, value) => void (o.hosts = value.text())],
  ['-p', (o, value) => void (o.port = value.int(1, 65535))],
  ['-U', (o, value) => void (o.user = value.text())],
  ['-P', (o, value) => void (o.password = value.text())],
  ['-a', (o) => void (o.askPassword = true)],
  [
    '-E',
    (o) => {
      const v = process.env.IPMI_PASSWORD ?? process.env.IPMITOOL_PASSWORD;
      if (v === undefined) throw new UsageError('-E given but IPMI_PASSWORD is not set');
      o.password = v;
    },
  ],
  [
    '-f',
    (o, value) => {
      const file = value.text();
      try {
        o.password = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
      } catch (error) {
        throw new UsageError(`cannot read password file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    },
  ],
  ['-C', (o, value) => void (o.cipherSuite = value.int(0, 255))],
  [
    '-L',
    (o, value) => {
      const v = value.text().toUpperCase();
      const level = PRIVILEGES[v];
      if (level === undefined) throw new UsageError(`privilege level '${v}' is not one of CALLBACK, USER, OPERATOR, ADMINISTRATOR`);
      o.privilege = level;
    },
  ],
  [
    '-A',
    (o, value) => {
      const v = value.text().toLowerCase();
      if (v !== 'md5' && v !== 'password' && v !== 'none') throw new UsageError(`authentication type '${v}' is not one of MD5, PASSWORD, NONE`);
      o.authType = v;
    },
  ],
  ['-k', (o, value) => void (o.kg = value.text())],
  [
    '-y',
    (o, value) => {
      const v = value.text().replace(/^0x/i, '');
      if (!/^([0-9a-f]{2}){1,20}$/i.test(v)) throw new UsageError('-y wants up to 20 bytes of hex');
      o.kg = Buffer.from(v, 'hex');
    },
  ],
  [
    '-K',
    (o) => {
      const v = process.env.IPMI_KGKEY;
      if (v === undefined) throw new UsageError('-K given but IPMI_KGKEY is not set');
      o.kg = v;
    },
  ],
  [
    '-N',
    (o, value) => {
      const n = Number(value.text());
      if (!(n > 0 && n <= 600)) throw new UsageError('-N wants seconds, more than 0');
      o.timeoutMs = Math.round(n * 1000);
    },
  ],
  ['-R', (o, value) => void (o.retries = value.int(0, 100))],
  ['-F', (o, value) => void (o.fanout = value.int(1, 1_000_000))],
  ['--json', (o) => void (o.json = true)],
  ['-c', (o) => void (o.csv = true)],
  ['-h', (o) => void (o.help = true)],
  ['--help', (o) => void (o.help = true)],
]);

function parse(argv: string[]): Options {
  const o: Options = { iface: 'lanplus', user: '', askPassword: false, fanout: DEFAULT_FANOUT, json: false, csv: false, help: false, words: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const flag = argv[i]!;
    if (!flag.startsWith('-') || flag === '-') break;
    const apply = FLAGS.get(flag);
    if (apply === undefined) throw new UsageError(`unknown option ${flag}`);
    const text = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    apply(o, {
      text,
      int: (min, max) => {
        const t = text();
        const n = Number(t);
        if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} wants a number from ${min} to ${max}, not '${t}'`);
        return n;
      },
    });
  }
  o.words = argv.slice(i);
  const jsonAt = o.words.indexOf('--json');
  if (jsonAt >= 0) {
    o.json = true;
    o.words.splice(jsonAt, 1);
  }
  return o;
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
    writeStdout(help() + '\n');
    return 0;
  }
  if (o.hosts === undefined) throw new UsageError('no BMC given: use -H host (or a host list)');
  const hosts = expandHosts(o.hosts);
  const command = commandFor(o.words, { csv: o.csv });
  if (o.askPassword) o.password = await promptSecret('Password: ');
  if (o.password === undefined) throw new UsageError('no password: use -a (asks), -E (IPMI_PASSWORD), -f FILE or -P PASSWORD');
  const client = new IpmiClient({
    policy: { ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), ...(o.retries !== undefined ? { retries: o.retries } : {}) },
  });
  try {
    if (hosts.length === 1 && !o.hosts.includes(',') && !o.hosts.includes('[')) {
      const out = await command.run(client.bmc(targetFor(o, hosts[0]!)));
      if (o.json) writeStdout(JSON.stringify(out.json, jsonBytes, 2) + '\n');
      else if (out.lines.length > 0) writeStdout(out.lines.join('\n') + '\n');
      return out.code ?? 0;
    }
    if (!command.fleet)
      throw new UsageError(
        `'${o.words.join(' ')}' runs on one BMC at a time; fleet mode supports power, chassis status/bootdev/identify/policy, mc info/reset, sel clear and raw`,
      );
    return await runFleet(client, o, hosts, command);
  } finally {
    await client.close();
  }
}

/** Runs the command on every host, at most `fanout` at once, printing each host's line as it finishes. */
async function runFleet(client: IpmiClient, o: Options, hosts: HostPort[], command: IpmiCommand): Promise<number> {
  let failures = 0;
  let next = 0;
  const results: unknown[] = [];
  // The lines of hosts that finish in one turn of the event loop go out in one write, at its
  // end (setImmediate): each as it came was a write(2) of its own, 200 of them for 200 BMCs
  // (~3 ms of a fleet run's CPU profile); a line still waits for no other host.
  let unwritten = '';
  const flush = (): void => {
    if (unwritten !== '') writeStdout(unwritten);
    unwritten = '';
  };
  const print = (line: string): void => {
    if (unwritten === '') setImmediate(flush);
    unwritten += `${line}\n`;
  };
  const worker = async (): Promise<void> => {
    while (next < hosts.length) {
      const h = hosts[next++]!;
      const label = hostLabel(h);
      const bmc = client.bmc(targetFor(o, h));
      try {
        const out = await command.run(bmc);
        if (o.json) results.push({ host: label, ok: true, result: out.json });
        else print(`${label}: ${command.shortForm ? command.shortForm(out) : 'ok'}`);
      } catch (error) {
        failures++;
        if (o.json) results.push({ host: label, ok: false, error: (error as Error).message, code: (error as { code?: string }).code });
        else print(`${label}: ${errorText(error)}`);
      } finally {
        // Close each session as soon as its host is done: BMC session slots are few.
        await bmc.session.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.fanout, hosts.length) }, worker));
  flush();
  if (o.json) writeStdout(JSON.stringify(results, jsonBytes) + '\n');
  return failures === 0 ? 0 : 1;
}

function jsonBytes(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}
