// `anvil bmc redfish`: runs an emulated Redfish BMC (HTTPS with a freshly made certificate,
// sessions, ETags, AllowableValues, a virtual CD, task monitors for slow resets) until SIGINT
// or SIGTERM, with an in-memory machine behind it; or a fleet of them on consecutive ports in
// this one process (--count), all with the same certificate.
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { EMULATOR_DEFAULTS, MemoryRedfishHandler, RedfishEmulator, generateCertificate } from '../protocols/redfish/index.ts';
import { UsageError } from './command.ts';
import { readPasswordFile } from './password.ts';

const DEFAULT_PORT = 8443;
/** Upper bound of --count: one process comfortably hosts this many (each is an HTTPS server). */
export const MAX_COUNT = 10_000;
const HELP = `Usage: anvil bmc redfish [options]

Runs an emulated Redfish BMC (DMTF DSP0266) with one ComputerSystem and one Manager: sessions
(SessionService, X-Auth-Token) and HTTP Basic, ETags with If-Match, Boot override with its
AllowableValues, ComputerSystem.Reset, a virtual CD (InsertMedia/EjectMedia under the Manager),
a log of what was done, and Redfish error bodies for malformed requests. The machine behind it
lives in memory.

Options:
  --address A          address to listen on (default 127.0.0.1)
  --port P             port (default ${DEFAULT_PORT}; 0 picks a free one)
  --count N            run N independent BMCs on consecutive ports P, P+1, ... (default 1; 1 to ${MAX_COUNT}),
                       each with its own machine and sessions, all with one certificate
  --user U             user name (default ${EMULATOR_DEFAULTS.user})
  --password W         password (prefer REDFISH_PASSWORD or --password-file: a command line is visible to others)
  --password-file F    read the password from the first line of F
  --http               plain HTTP instead of HTTPS (for tests on loopback only)
  --cert-out F         write the generated CA certificate and server certificate (PEM) to F, for clients to trust or pin
  --system-id ID       the ComputerSystem's Id (default ${EMULATOR_DEFAULTS.systemId})
  --mac M              a NIC MAC address the system reports (repeatable)
  --power on|off       initial power state (default off)
  --keep-alive S       close connections idle for S seconds (default ${EMULATOR_DEFAULTS.keepAliveTimeoutMs / 1000})
  --task-delay MS      answer resets with 202 and a task monitor that runs at least MS ms
  --quiet              do not log requests that failed
  -h, --help           this help

Environment: REDFISH_PASSWORD  the password, when neither --password nor --password-file is given.
Prints "listening on <url>" for each BMC once it is ready, then, with --count, "N BMC(s) running".`;

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        address: { type: 'string' },
        port: { type: 'string' },
        count: { type: 'string' },
        user: { type: 'string' },
        password: { type: 'string' },
        'password-file': { type: 'string' },
        http: { type: 'boolean' },
        'cert-out': { type: 'string' },
        'system-id': { type: 'string' },
        mac: { type: 'string', multiple: true },
        power: { type: 'string' },
        'task-delay': { type: 'string' },
        'keep-alive': { type: 'string' },
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
  const count = integer(o.count, '--count', 1, MAX_COUNT, 1);
  if (count > 1 && port === 0) throw new UsageError('--count needs a --port to start from (consecutive ports P..P+N-1)');
  if (port + count - 1 > 65535) throw new UsageError(`--count ${count} from port ${port} runs past 65535`);
  if (count > 1 && o.mac !== undefined) throw new UsageError('--mac names one machine; it cannot be given with --count');
  const taskDelayMs = integer(o['task-delay'], '--task-delay', 0, 600_000, 0);
  const keepAliveTimeoutMs = integer(o['keep-alive'], '--keep-alive', 1, 3600, EMULATOR_DEFAULTS.keepAliveTimeoutMs / 1000) * 1000;
  if (o.power !== undefined && o.power !== 'on' && o.power !== 'off') throw new UsageError(`--power takes on or off, not '${o.power}'`);
  for (const mac of o.mac ?? [])
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new UsageError(`--mac takes a MAC address like 52:54:00:12:34:56, not '${mac}'`);
  const password =
    o.password ?? (o['password-file'] !== undefined ? await readPasswordFile(o['password-file'], '--password-file') : process.env['REDFISH_PASSWORD']);
  if (password === undefined || password === '') throw new UsageError('no password: set REDFISH_PASSWORD, or give --password-file (or --password)');
  const address = o.address ?? '127.0.0.1';
  const tls = o.http ? undefined : await generateCertificate('anvil-redfish-bmc', [address]);
  if (tls && o['cert-out'] !== undefined) await writeFile(o['cert-out'], tls.ca + tls.cert, { mode: 0o644 });
  const user = o.user ?? EMULATOR_DEFAULTS.user;
  const onError = o.quiet
    ? undefined
    : (error: unknown, what: string) => process.stderr.write(`${new Date().toISOString()} ${what} failed: ${(error as Error).message}\n`);
  const pin = tls ? `; certificate sha256 ${new X509Certificate(tls.cert).fingerprint256}` : '';
  const emulators: RedfishEmulator[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const emulator = new RedfishEmulator({
        password,
        address,
        port: port === 0 ? 0 : port + i,
        handler: new MemoryRedfishHandler({ power: o.power === 'on' ? 'On' : 'Off' }),
        user,
        ...(tls ? { tls } : {}),
        ...(o['system-id'] !== undefined ? { systemId: o['system-id'] } : {}),
        ...(o.mac ? { macs: o.mac } : {}),
        taskDelayMs,
        keepAliveTimeoutMs,
        ...(onError ? { onError } : {}),
      });
      const bound = await emulator.listen();
      emulators.push(emulator);
      process.stdout.write(`listening on ${bound.url} (user ${user}; system ${emulator.systemId}${pin})\n`);
    }
  } catch (error) {
    await Promise.all(emulators.map((e) => e.close()));
    const code = (error as { code?: string }).code;
    const hint = code === 'EADDRINUSE' ? ' (already in use: pick another --port)' : code === 'EACCES' ? ' (ports below 1024 need root)' : '';
    throw new Error(`cannot listen: ${(error as Error).message}${hint}`, { cause: error });
  }
  if (count > 1) process.stdout.write(`${count} BMC(s) running; Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await Promise.all(emulators.map((e) => e.close()));
  return 0;
}
