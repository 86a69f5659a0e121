// bin/anvil serve: the server — HTTP (pxemngr URLs, API, pages) on its embedded SQLite.
import { Command, CommanderError, Option } from 'commander';
import { parseHostPort } from '../common/address.ts';
import { startAnvil } from '../app/start.ts';
import { DEFAULT_UPLOAD_LIMIT } from '../app/http.ts';
import { DEFAULT_RUN_TIMEOUT_MS } from '../testing/testing.ts';
import { UsageError } from './command.ts';
import { dataOption } from './data.ts';
import { POWER_SYNC_DEFAULTS, powerSyncFromEnv } from '../conductor/power-sync.ts';
import { CONDUCTOR_DEFAULTS, conductorFromEnv } from '../conductor/conductors.ts';

export function dataOptions(cmd: Command): Command {
  return cmd
    .addOption(dataOption())
    .addOption(new Option('--profiles <dir>', 'boot profiles folder (default DATA/tftp/pxelinux.cfg/profiles)').env('ANVIL_PROFILES'))
    .addOption(new Option('--tests <dir>', 'test scripts folder (default DATA/tests)').env('ANVIL_TESTS'));
}

export function serverOptions(cmd: Command, defaultHttp = '0.0.0.0:8080'): Command {
  return dataOptions(cmd)
    .addOption(new Option('--http <host:port>', 'where the HTTP server listens').env('ANVIL_HTTP').default(defaultHttp))
    .addOption(
      new Option(
        '--database-url <url>',
        "postgres://USER:PASSWORD@HOST:PORT/DATABASE instead of the data directory's SQLite (prefer the variable: a command line is visible to ps); several servers on one database form a cluster whose conductors share the machines (README: Running a cluster)",
      ).env('ANVIL_DATABASE_URL'),
    )
    .option('--public-url <url>', "the base URL machines reach anvil at (default: from each request's Host header)")
    .addOption(
      new Option(
        '--peer-url <url>',
        "this server's own URL for the other servers of a cluster, which read the image files it holds from it (default: http://HOST:PORT of --http, this host's name for 0.0.0.0)",
      ).env('ANVIL_PEER_URL'),
    )
    .option('--upload-limit <bytes>', 'largest test result accepted', String(DEFAULT_UPLOAD_LIMIT))
    .option('--run-timeout <seconds>', 'a test run sent and not uploaded within this time becomes error', String(DEFAULT_RUN_TIMEOUT_MS / 1000))
    .option('--log-level <level>', 'fatal, error, warn, info, debug or silent', 'info')
    .option('--log-format <pretty|json>', 'log lines for people or JSON (default: pretty on a terminal, JSON otherwise)')
    .addOption(
      new Option('--tftp <host:port|off>', 'TFTP server for loaders and pxelinux configurations (default 0.0.0.0:69 when it can be bound)').env('ANVIL_TFTP'),
    )
    .option('--dhcp <off|proxy|server>', "DHCP: proxyDHCP beside the site's server, or a server on an isolated provisioning network", 'off')
    .option('--dhcp-interface <if>', "the provisioning network's interface (its IPv4 address is announced)")
    .option('--dhcp-range <first-last>', 'addresses handed out in server mode, e.g. 10.9.0.100-10.9.0.199')
    .option(
      '--boot-loader <ipxe|pxelinux>',
      'what BIOS machines load first: iPXE (then /boot/<mac> over HTTP) or pxelinux.0 (then pxelinux.cfg/01-<mac> over TFTP)',
      'ipxe',
    )
    .option('--export <dir>', 'keep DIR/pxelinux.cfg/01-<mac> files written, for a TFTP server of your own')
    .addOption(
      new Option('--power-sync-interval <seconds>', "how often every machine's power state is read (0: never)")
        .env('ANVIL_POWER_SYNC_INTERVAL')
        .default(String(POWER_SYNC_DEFAULTS.intervalMs / 1000)),
    )
    .addOption(
      new Option('--power-sync-workers <n>', 'machines read at once by the power sync')
        .env('ANVIL_POWER_SYNC_WORKERS')
        .default(String(POWER_SYNC_DEFAULTS.concurrency)),
    )
    .addOption(
      new Option('--power-sync-max-failures <n>', 'failed reads in a row before a machine goes into maintenance')
        .env('ANVIL_POWER_SYNC_MAX_FAILURES')
        .default(String(POWER_SYNC_DEFAULTS.maxFailures)),
    )
    .addOption(
      new Option(
        '--conductor-heartbeat <seconds>',
        "how often this server's conductor heartbeats into the database (PostgreSQL; `anvil conductor list` shows them)",
      )
        .env('ANVIL_CONDUCTOR_HEARTBEAT')
        .default(String(CONDUCTOR_DEFAULTS.heartbeatMs / 1000)),
    )
    .addOption(
      new Option(
        '--conductor-dead-after <seconds>',
        `a conductor without a heartbeat this long is dead; the others take over its machines and locks (default ${CONDUCTOR_DEFAULTS.deadAfterHeartbeats} heartbeats)`,
      ).env('ANVIL_CONDUCTOR_DEAD_AFTER'),
    );
}

export interface ParsedServerOptions {
  data: string;
  profiles?: string;
  tests?: string;
  http: string;
  databaseUrl?: string;
  publicUrl?: string;
  peerUrl?: string;
  uploadLimit: string;
  runTimeout: string;
  logLevel: string;
  logFormat?: string;
  tftp?: string;
  dhcp: string;
  dhcpInterface?: string;
  dhcpRange?: string;
  bootLoader: string;
  export?: string;
  powerSyncInterval: string;
  powerSyncWorkers: string;
  powerSyncMaxFailures: string;
  conductorHeartbeat: string;
  conductorDeadAfter?: string;
}

function logFormatOf(text: string | undefined): 'pretty' | 'json' {
  if (text === undefined) return process.stdout.isTTY ? 'pretty' : 'json';
  if (text !== 'pretty' && text !== 'json') throw new UsageError(`--log-format '${text}' must be pretty or json`);
  return text;
}

export function toAnvilOptions(o: ParsedServerOptions) {
  const uploadLimit = Number(o.uploadLimit);
  const runTimeout = Number(o.runTimeout);
  if (!Number.isSafeInteger(uploadLimit) || uploadLimit <= 0) throw new UsageError(`--upload-limit '${o.uploadLimit}' must be a positive number of bytes`);
  if (!Number.isFinite(runTimeout) || runTimeout <= 0) throw new UsageError(`--run-timeout '${o.runTimeout}' must be a positive number of seconds`);
  if (!['off', 'proxy', 'server'].includes(o.dhcp)) throw new UsageError(`--dhcp '${o.dhcp}' must be off, proxy or server`);
  if (o.dhcp !== 'off' && !o.dhcpInterface) throw new UsageError(`--dhcp ${o.dhcp} needs --dhcp-interface IF (the provisioning network's interface)`);
  if (o.dhcp === 'server' && !o.dhcpRange) throw new UsageError('--dhcp server needs --dhcp-range FIRST-LAST');
  if (o.bootLoader !== 'ipxe' && o.bootLoader !== 'pxelinux') throw new UsageError(`--boot-loader '${o.bootLoader}' must be ipxe or pxelinux`);
  if (o.peerUrl !== undefined && !/^https?:\/\/[^/\s]+/.test(o.peerUrl))
    throw new UsageError(`--peer-url '${o.peerUrl}' must be this server's own http://HOST:PORT, as the other servers of the cluster reach it`);
  const tftp = o.tftp === 'off' ? undefined : parseHostPort(o.tftp ?? '0.0.0.0:69', { host: '0.0.0.0', port: 69 }, '--tftp');
  return {
    data: o.data,
    profiles: o.profiles,
    tests: o.tests,
    http: parseHostPort(o.http, { host: '0.0.0.0', port: 8080 }, '--http'),
    databaseUrl: o.databaseUrl,
    publicUrl: o.publicUrl,
    peerUrl: o.peerUrl,
    uploadLimit,
    runTimeoutMs: runTimeout * 1000,
    logLevel: o.logLevel,
    logFormat: logFormatOf(o.logFormat),
    netboot: {
      tftp,
      tftpIsDefault: o.tftp === undefined,
      dhcp:
        o.dhcp === 'off'
          ? undefined
          : { mode: o.dhcp as 'proxy' | 'server', interface: o.dhcpInterface!, range: o.dhcpRange, loader: o.bootLoader as 'ipxe' | 'pxelinux' },
    },
    exportDir: o.export,
    powerSync: powerSyncOptions(o),
    conductor: conductorOptions(o),
  };
}

function conductorOptions(o: ParsedServerOptions) {
  let options;
  try {
    options = conductorFromEnv({ ANVIL_CONDUCTOR_HEARTBEAT: o.conductorHeartbeat, ANVIL_CONDUCTOR_DEAD_AFTER: o.conductorDeadAfter });
  } catch (error) {
    throw new UsageError(
      (error as Error).message.replace('ANVIL_CONDUCTOR_HEARTBEAT', '--conductor-heartbeat').replace('ANVIL_CONDUCTOR_DEAD_AFTER', '--conductor-dead-after'),
    );
  }
  const heartbeatMs = options.heartbeatMs ?? CONDUCTOR_DEFAULTS.heartbeatMs;
  if (options.deadAfterMs !== undefined && options.deadAfterMs <= heartbeatMs)
    throw new UsageError(`--conductor-dead-after (${options.deadAfterMs / 1000} s) must be longer than one heartbeat (${heartbeatMs / 1000} s)`);
  return options;
}

function powerSyncOptions(o: ParsedServerOptions) {
  try {
    // One validation for flags and environment: the flags already carry the env's values.
    return powerSyncFromEnv({
      ANVIL_POWER_SYNC_INTERVAL: o.powerSyncInterval,
      ANVIL_POWER_SYNC_WORKERS: o.powerSyncWorkers,
      ANVIL_POWER_SYNC_MAX_FAILURES: o.powerSyncMaxFailures,
    });
  } catch (error) {
    throw new UsageError(
      (error as Error).message
        .replace('ANVIL_POWER_SYNC_INTERVAL', '--power-sync-interval')
        .replace('ANVIL_POWER_SYNC_WORKERS', '--power-sync-workers')
        .replace('ANVIL_POWER_SYNC_MAX_FAILURES', '--power-sync-max-failures'),
    );
  }
}

/** Runs until SIGTERM or SIGINT, then stops cleanly. */
export async function serveUntilSignalled(start: (signal: AbortSignal) => Promise<{ stopped: Promise<void> }>): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const running = await start(controller.signal);
  await running.stopped;
  return 0;
}

export async function parseCommand(cmd: Command, argv: string[]): Promise<boolean> {
  cmd.exitOverride().showHelpAfterError();
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return true;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return false;
      throw new UsageError(error.message.replace(/^error: /, ''));
    }
    throw error;
  }
}

export async function run(argv: string[]): Promise<number> {
  let code = 0;
  const cmd = serverOptions(new Command('anvil serve').description('Run the anvil server: machine-facing URLs, the API (/api/v1) and the web pages')).action(
    async (o: ParsedServerOptions) => {
      code = await serveUntilSignalled(async (signal) => {
        const running = await startAnvil(toAnvilOptions(o), signal);
        running.app.log.info({ url: running.url, data: running.services.paths.data }, 'anvil is serving');
        if ((await running.services.tokens.list()).length === 0) {
          // The first start: nobody can sign in yet.
          running.app.log.info(
            `no API token yet: make one with  bin/anvil token create --role admin --data ${running.services.paths.data}  and sign in at ${running.url}/login`,
          );
        }
        return running;
      });
    },
  );
  await parseCommand(cmd, argv);
  return code;
}
