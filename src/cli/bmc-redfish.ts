// `anvil bmc redfish`: runs an emulated Redfish BMC (HTTPS with a freshly made certificate,
// sessions, ETags, AllowableValues, a virtual CD, task monitors for slow resets) until SIGINT
// or SIGTERM, with an in-memory machine behind it.
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { EMULATOR_DEFAULTS, MemoryRedfishHandler, RedfishEmulator, generateCertificate } from '../protocols/redfish/index.ts';
import { UsageError } from './command.ts';
import { readPasswordFile } from './password.ts';

const DEFAULT_PORT = 8443;
const HELP = `Usage: anvil bmc redfish [options]

Runs an emulated Redfish BMC (DMTF DSP0266) with one ComputerSystem and one Manager: sessions
(SessionService, X-Auth-Token) and HTTP Basic, ETags with If-Match, Boot override with its
AllowableValues, ComputerSystem.Reset, a virtual CD (InsertMedia/EjectMedia under the Manager),
a log of what was done, and Redfish error bodies for malformed requests. The machine behind it
lives in memory.

Options:
  --address A          address to listen on (default 127.0.0.1)
  --port P             port (default ${DEFAULT_PORT}; 0 picks a free one)
  --user U             user name (default ${EMULATOR_DEFAULTS.user})
  --password W         password (prefer REDFISH_PASSWORD or --password-file: a command line is visible to others)
  --password-file F    read the password from the first line of F
  --http               plain HTTP instead of HTTPS (for tests on loopback only)
  --cert-out F         write the generated CA certificate and server certificate (PEM) to F, for clients to trust or pin
  --system-id ID       the ComputerSystem's Id (default ${EMULATOR_DEFAULTS.systemId})
  --mac M              a NIC MAC address the system reports (repeatable)
  --power on|off       initial power state (default off)
  --task-delay MS      answer resets with 202 and a task monitor that runs at least MS ms
  --quiet              do not log requests that failed
  -h, --help           this help

Environment: REDFISH_PASSWORD  the password, when neither --password nor --password-file is given.
Prints "listening on <url>" once ready.`;

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        address: { type: 'string' },
        port: { type: 'string' },
        user: { type: 'string' },
        password: { type: 'string' },
        'password-file': { type: 'string' },
        http: { type: 'boolean' },
        'cert-out': { type: 'string' },
        'system-id': { type: 'string' },
        mac: { type: 'string', multiple: true },
        power: { type: 'string' },
        'task-delay': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function integer(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, not '${value}'`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const o = parse(argv);
  if (o.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const port = integer(o.port, '--port', 0, 65535, DEFAULT_PORT);
  const taskDelayMs = integer(o['task-delay'], '--task-delay', 0, 600_000, 0);
  if (o.power !== undefined && o.power !== 'on' && o.power !== 'off') throw new UsageError(`--power takes on or off, not '${o.power}'`);
  for (const mac of o.mac ?? [])
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new UsageError(`--mac takes a MAC address like 52:54:00:12:34:56, not '${mac}'`);
  const password =
    o.password ?? (o['password-file'] !== undefined ? await readPasswordFile(o['password-file'], '--password-file') : process.env['REDFISH_PASSWORD']);
  if (password === undefined || password === '') throw new UsageError('no password: set REDFISH_PASSWORD, or give --password-file (or --password)');
  const address = o.address ?? '127.0.0.1';
  const tls = o.http ? undefined : await generateCertificate('anvil-redfish-bmc', [address]);
  if (tls && o['cert-out'] !== undefined) await writeFile(o['cert-out'], tls.ca + tls.cert, { mode: 0o644 });
  const emulator = new RedfishEmulator({
    password,
    address,
    port,
    handler: new MemoryRedfishHandler({ power: o.power === 'on' ? 'On' : 'Off' }),
    user: o.user ?? EMULATOR_DEFAULTS.user,
    ...(tls ? { tls } : {}),
    ...(o['system-id'] !== undefined ? { systemId: o['system-id'] } : {}),
    ...(o.mac ? { macs: o.mac } : {}),
    taskDelayMs,
    ...(o.quiet
      ? {}
      : { onError: (error: unknown, what: string) => process.stderr.write(`${new Date().toISOString()} ${what} failed: ${(error as Error).message}\n`) }),
  });
  const bound = await emulator.listen();
  const pin = tls ? `; certificate sha256 ${new X509Certificate(tls.cert).fingerprint256}` : '';
  process.stdout.write(`listening on ${bound.url} (user ${o.user ?? EMULATOR_DEFAULTS.user}; system ${emulator.systemId}${pin})\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await emulator.close();
  return 0;
}
