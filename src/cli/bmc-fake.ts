// bin/anvil bmc fake: runs emulated IPMI BMCs (anvil's fakebmc), one or a fleet, in this
// process until SIGINT/SIGTERM. Each BMC keeps its power, boot flags, users, SEL and
// console in memory, like pyghmi's fakebmc, without its defects.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BmcServer } from '../protocols/ipmi/server/server.ts';
import type { HostedBmc } from '../protocols/ipmi/server/server.ts';
import { MemoryBmcHandler } from '../protocols/ipmi/server/memory-handler.ts';
import { DEFAULT_CIPHER_SUITES, DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_TIMEOUT_MS } from '../protocols/ipmi/server/bmc-options.ts';
import type { Session15AuthType } from '../protocols/ipmi/session15.ts';
import { CIPHER_SUITES } from '../protocols/ipmi/cipher-suites.ts';
import { UsageError } from './command.ts';

/** Loopback, so nothing is exposed by accident; pyghmi's fakebmc listens on [::] instead. */
export const DEFAULT_ADDRESS = '127.0.0.1';
/** The IPMI port, so `ipmitool -H` needs no `-p`; unprivileged users pass e.g. --port 6230. */
export const DEFAULT_PORT = 623;
export const DEFAULT_USER = 'admin';
/** pyghmi fakebmc's default password; override with --password-file or IPMI_PASSWORD. */
export const DEFAULT_PASSWORD = 'password';
/** Upper bound of --count: one process comfortably hosts this many BMCs. */
export const MAX_COUNT = 10_000;

const HELP = `Usage: anvil bmc fake [options]

Runs emulated IPMI BMCs until interrupted (Ctrl-C or SIGTERM). Each answers ipmitool
(-I lan and -I lanplus, cipher suites ${DEFAULT_CIPHER_SUITES.join(', ')}), FreeIPMI and pyghmi: power, chassis
status, boot device, mc info/guid, users, sensors, SEL, FRU, LAN settings and SOL (an
echoing console).

Options:
  --address A          address to listen on (default ${DEFAULT_ADDRESS}; '::' or 0.0.0.0 for all)
  --port P             UDP port (default ${DEFAULT_PORT}; ports below 1024 need root; 0 = any free port)
  --user U             the administrator's user name (default ${DEFAULT_USER})
  --password-file F    read the password from the first line of F
  --password W         the password (visible to other users in ps; prefer the two above)
  --count N            run N independent BMCs on consecutive ports P, P+1, ... (default 1)
  --spread-addresses   with --count: consecutive addresses A, A+1, ... all on port P
                       (127.0.0.0/8 is all loopback on Linux, so 127.0.0.1..127.0.0.N work as-is)
  --cipher-suites L    comma-separated suites to offer, preferred first (default ${DEFAULT_CIPHER_SUITES.join(',')};
                       known: ${[...CIPHER_SUITES.keys()].join(',')})
  --auth-types L       IPMI 1.5 auth types: md5,password,none (default md5,password)
  --max-sessions N     session slots per BMC (default ${DEFAULT_MAX_SESSIONS})
  --session-timeout S  close sessions idle for S seconds (default ${DEFAULT_SESSION_TIMEOUT_MS / 1000})
  --log-power          print a line for each chassis power action a BMC carries out:
                       'power <action> <address>:<port>' (to count what a fleet received)
  --power-delay MS     a power action's new state shows MS milliseconds after it was
                       accepted, as a real chassis takes a while (default 0)
  -h, --help           this text

Environment: IPMI_PASSWORD  the password, when neither --password-file nor --password is given
             (default '${DEFAULT_PASSWORD}', as pyghmi's fakebmc).
`;

function integer(text: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} '${text}' must be an integer from ${min} to ${max}`);
  return n;
}

/** IPv4 address plus n, e.g. 127.0.0.1 + 1 = 127.0.0.2. */
export function nextIpv4(address: string, n: number): string {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new UsageError(`--spread-addresses needs an IPv4 --address, not '${address}'`);
  const value = ((parts[0] as number) * 2 ** 24 + (parts[1] as number) * 2 ** 16 + (parts[2] as number) * 2 ** 8 + (parts[3] as number) + n) >>> 0;
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

function password(values: { 'password-file'?: string; password?: string }): string {
  if (values['password-file'] !== undefined) {
    let text: string;
    try {
      text = readFileSync(values['password-file'], 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --password-file '${values['password-file']}': ${(error as Error).message}`);
    }
    return text.split(/\r?\n/)[0] ?? '';
  }
  return values.password ?? process.env.IPMI_PASSWORD ?? DEFAULT_PASSWORD;
}

/** The fleet asked for on the command line, checked. */
interface FleetOptions {
  readonly address: string;
  readonly port: number;
  readonly count: number;
  readonly spreadAddresses: boolean;
  readonly user: string;
  readonly password: string;
  readonly cipherSuites: number[] | undefined;
  readonly authTypes: Session15AuthType[] | undefined;
  readonly maxSessions: number;
  readonly sessionTimeoutMs: number;
  readonly logPower: boolean;
  readonly powerDelayMs: number;
}

/** The options, or 'help'; throws UsageError for a bad one. */
function fleetOptions(argv: string[]): FleetOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        address: { type: 'string' },
        port: { type: 'string' },
        user: { type: 'string' },
        password: { type: 'string' },
        'password-file': { type: 'string' },
        count: { type: 'string' },
        'spread-addresses': { type: 'boolean' },
        'cipher-suites': { type: 'string' },
        'auth-types': { type: 'string' },
        'max-sessions': { type: 'string' },
        'session-timeout': { type: 'string' },
        'log-power': { type: 'boolean' },
        'power-delay': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const address = v.address ?? DEFAULT_ADDRESS;
  const port = integer(v.port, '--port', 0, 65535, DEFAULT_PORT);
  const count = integer(v.count, '--count', 1, MAX_COUNT, 1);
  const user = v.user ?? DEFAULT_USER;
  if (Buffer.byteLength(user) > 16) throw new UsageError('--user must be at most 16 bytes');
  const secret = password(v);
  if (Buffer.byteLength(secret) > 20) throw new UsageError('the password must be at most 20 bytes (16 for IPMI 1.5)');
  const cipherSuites = v['cipher-suites']?.split(',').map((s) => integer(s.trim(), '--cipher-suites', 0, 255, 0));
  for (const id of cipherSuites ?? [])
    if (!CIPHER_SUITES.has(id)) throw new UsageError(`cipher suite ${id} is not supported; known: ${[...CIPHER_SUITES.keys()].join(',')}`);
  const authTypes = v['auth-types']?.split(',').map((s) => s.trim());
  for (const t of authTypes ?? [])
    if (t !== 'md5' && t !== 'password' && t !== 'none') throw new UsageError(`--auth-types: unknown '${t}' (md5, password, none)`);
  const maxSessions = integer(v['max-sessions'], '--max-sessions', 1, 64, DEFAULT_MAX_SESSIONS);
  const sessionTimeoutMs = integer(v['session-timeout'], '--session-timeout', 1, 86_400, DEFAULT_SESSION_TIMEOUT_MS / 1000) * 1000;
  const spreadAddresses = v['spread-addresses'] === true;
  if (!spreadAddresses && port !== 0 && port + count - 1 > 65535) throw new UsageError(`--count ${count} from port ${port} runs past 65535`);
  return {
    address,
    port,
    count,
    spreadAddresses,
    user,
    password: secret,
    cipherSuites,
    authTypes: authTypes as Session15AuthType[] | undefined,
    maxSessions,
    sessionTimeoutMs,
    logPower: v['log-power'] === true,
    powerDelayMs: integer(v['power-delay'], '--power-delay', 0, 600_000, 0),
  };
}

/** Starts every BMC of the fleet; if one cannot listen, closes the others and says why. */
async function startFleet(server: BmcServer, o: FleetOptions): Promise<HostedBmc[]> {
  const started: HostedBmc[] = [];
  try {
    for (let i = 0; i < o.count; i++) {
      const serial = `ANVIL${String(i + 1).padStart(4, '0')}`;
      const address = o.spreadAddresses ? nextIpv4(o.address, i) : o.address;
      const port = o.spreadAddresses || o.port === 0 ? o.port : o.port + i;
      // Port 0 is known only once listening: the line names the BMC by the port it got.
      let bound = port;
      const onPower = o.logPower ? (action: string) => process.stdout.write(`power ${action} ${address}:${bound}\n`) : undefined;
      const hosted = await server.add({
        address,
        port,
        handler: new MemoryBmcHandler({ user: o.user, password: o.password, serial, powerDelayMs: o.powerDelayMs, ...(onPower ? { onPower } : {}) }),
        ...(o.cipherSuites === undefined ? {} : { cipherSuites: o.cipherSuites }),
        ...(o.authTypes === undefined ? {} : { authTypes15: o.authTypes }),
        maxSessions: o.maxSessions,
        sessionTimeoutMs: o.sessionTimeoutMs,
      });
      bound = hosted.port;
      started.push(hosted);
    }
  } catch (error) {
    await server.close();
    const code = (error as { code?: string }).code;
    const hint =
      code === 'EACCES'
        ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE; try --port 6230)'
        : code === 'EADDRINUSE'
          ? ' (already in use: pick another --port)'
          : code === 'EADDRNOTAVAIL'
            ? ' (no such local address)'
            : '';
    throw new Error(`cannot listen: ${(error as Error).message}${hint}`, { cause: error });
  }
  return started;
}

export async function run(argv: string[]): Promise<number> {
  const o = fleetOptions(argv);
  if (o === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const server = new BmcServer();
  const started = await startFleet(server, o);
  for (const [i, b] of started.entries()) {
    const host = b.address.includes(':') ? `[${b.address}]` : b.address;
    process.stdout.write(`bmc ${i + 1}: listening on ${host}:${b.port} (user ${o.user})\n`);
  }
  process.stdout.write(`${started.length} BMC(s) running; Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const stats = server.stats();
  await server.close();
  // Opened against closed and expired, with those still open, so a session leak shows.
  process.stderr.write(
    `stopped: ${stats.received} packets, ${stats.badPackets} bad; sessions ${stats.sessionsOpened} opened, ${stats.sessionsClosed} closed, ${stats.sessionsExpired} expired, ${stats.activeSessions} still open\n`,
  );
  return 0;
}
