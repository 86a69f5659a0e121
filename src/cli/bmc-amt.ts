// `anvil bmc amt`: runs an emulated Intel AMT (WS-Management on /wsman and the legacy SOAP
// services amttool calls) until SIGINT or SIGTERM, with an in-memory machine behind it.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AmtEmulator, EMULATOR_DEFAULTS, MemoryAmtHandler, ALL_POWER_ACTIONS, BASIC_POWER_ACTIONS } from '../protocols/amt/index.ts';
import type { AmtProtocol } from '../protocols/amt/index.ts';
import { makeSelfSignedCertificate } from '../protocols/amt/emulator/self-signed.ts';
import { UsageError } from './command.ts';

const HELP = `Usage: anvil bmc amt [options]

Runs an emulated Intel AMT: WS-Management (AMT 6+) on /wsman and the legacy SOAP services
(RemoteControlService, SecurityAdministrationService, NetworkAdministrationService) that
amttool uses, behind HTTP digest authentication. The machine behind it lives in memory.

Options:
  --address A          address to listen on (default ${EMULATOR_DEFAULTS.address})
  --port P             port (default ${EMULATOR_DEFAULTS.port}; 0 picks a free one)
  --user U             user name (default ${EMULATOR_DEFAULTS.user})
  --password W         password (prefer AMT_PASSWORD or --password-file: a command line is visible to others)
  --password-file F    read the password from the first line of F
  --tls                serve HTTPS with a freshly made self-signed certificate (needs openssl)
  --protocols LIST     wsman,soap (default both); 'soap' alone is an AMT before 6.0, 'wsman' alone AMT 9+
  --power on|off       initial power state (default off)
  --graceful           also offer the graceful power states (soft-off, soft-reset, ...) of AMT 9+
  --amt-version V      firmware version reported (default ${EMULATOR_DEFAULTS.amtVersion})
  --hostname H         host name reported to amttool (default ${EMULATOR_DEFAULTS.hostname})
  --domain D           domain name reported to amttool (default ${EMULATOR_DEFAULTS.domain})
  --quiet              do not log requests
  -h, --help           this help

Environment: AMT_PASSWORD  the password, when neither --password nor --password-file is given.
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
        tls: { type: 'boolean' },
        protocols: { type: 'string' },
        power: { type: 'string' },
        graceful: { type: 'boolean' },
        'amt-version': { type: 'string' },
        hostname: { type: 'string' },
        domain: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The emulator the options ask for, not listening yet, and what its start-up line says; throws UsageError for a bad option. */
async function emulatorFor(o: ReturnType<typeof parse>): Promise<{ emulator: AmtEmulator; scheme: 'http' | 'https'; protocols: string[] }> {
  const port = o.port === undefined ? EMULATOR_DEFAULTS.port : Number(o.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, not '${o.port}'`);
  const protocols = (o.protocols ?? 'wsman,soap')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (protocols.length === 0 || protocols.some((p) => p !== 'wsman' && p !== 'soap'))
    throw new UsageError(`--protocols takes wsman, soap or both, not '${o.protocols}'`);
  if (o.power !== undefined && o.power !== 'on' && o.power !== 'off') throw new UsageError(`--power takes on or off, not '${o.power}'`);
  const password = o.password ?? (o['password-file'] !== undefined ? await readPasswordFile(o['password-file']) : process.env['AMT_PASSWORD']);
  if (password === undefined || password === '') throw new UsageError('no password: set AMT_PASSWORD, or give --password-file (or --password)');

  const hostname = o.hostname ?? EMULATOR_DEFAULTS.hostname;
  const tls = o.tls ? await makeSelfSignedCertificate(hostname) : undefined;
  const handler = new MemoryAmtHandler({ power: o.power === 'on' ? 'on' : 'off', actions: o.graceful ? ALL_POWER_ACTIONS : BASIC_POWER_ACTIONS });
  const emulator = new AmtEmulator({
    password,
    handler,
    port,
    protocols: protocols as AmtProtocol[],
    hostname,
    address: o.address ?? EMULATOR_DEFAULTS.address,
    user: o.user ?? EMULATOR_DEFAULTS.user,
    ...(tls ? { tls } : {}),
    ...(o['amt-version'] !== undefined ? { amtVersion: o['amt-version'] } : {}),
    ...(o.domain !== undefined ? { domain: o.domain } : {}),
    ...(o.quiet ? {} : { log: (line: string) => process.stderr.write(`${new Date().toISOString()} ${line} power=${handler.power}\n`) }),
  });
  return { emulator, scheme: tls ? 'https' : 'http', protocols };
}

export async function run(argv: string[]): Promise<number> {
  const o = parse(argv);
  if (o.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const { emulator, scheme, protocols } = await emulatorFor(o);
  const bound = await emulator.listen();
  const host = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  process.stdout.write(`listening on ${scheme}://${host}:${bound.port} (user ${o.user ?? EMULATOR_DEFAULTS.user}; ${protocols.join(' and ')})\n`);

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

async function readPasswordFile(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read --password-file ${path}: ${error.code ?? error.message}`);
  });
  return text.split(/\r?\n/)[0] ?? '';
}
