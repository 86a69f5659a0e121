// Starts anvil: opens the services, builds the HTTP server, starts the periodic work (the
// test-run watchdog), and stops it all when the given signal aborts. The one place where a
// running server is wired together; `anvil serve` and `anvil demo` call it.
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { checkClusterKey, joinCluster, openServices, type ServiceOptions, type Services } from './compose.ts';
import { buildServer, type ServerOptions } from './http.ts';
import { DEFAULT_RUN_TIMEOUT_MS } from '../testing/testing.ts';
import type { HostPort } from '../common/address.ts';
import { PowerSync, powerSyncFromEnv, type PowerSyncOptions } from '../conductor/power-sync.ts';
import { ChangePoll, changePollFromEnv } from '../machines/change-poll.ts';
import { CHANGES_CHANNEL, ChangeRelay } from '../machines/change-relay.ts';
import { startNetboot, type Netboot, type NetbootOptions } from './netboot.ts';
import { EXPORT_INTERVAL_MS, exportPxelinux } from '../boot/export-pxelinux.ts';
import { AddressResolver, arpTable } from '../boot/resolver.ts';
import { removeServerFile, writeServerFile } from './server-file.ts';
import { sweepAgentStaging } from '../provisioning/agent-files.ts';

/**
 * Connections waiting to be accepted. Node's default, 511, overflowed when 1,000 machines asked
 * for their scripts at once (bench/boot-storm.ts): a dropped SYN is retried only after 1, 3, 7 s.
 * The kernel caps it at net.core.somaxconn (4096 on Debian 12).
 */
export const HTTP_BACKLOG = 4096;

/** How long a stopping server waits for requests in flight before it cuts their connections. */
export const SHUTDOWN_GRACE_MS = 10_000;

/** How often deploys are checked against their deadline. */
export const DEADLINE_CHECK_MS = 5_000;

/** How often the watchdog looks for runs sent too long ago (at most). */
export const WATCHDOG_INTERVAL_MS = 60_000;

export interface AnvilOptions extends ServiceOptions, ServerOptions {
  readonly http: HostPort;
  /** A run sent and not uploaded within this many ms becomes error. */
  readonly runTimeoutMs?: number;
  /** TFTP and DHCP; off when absent. */
  readonly netboot?: Omit<NetbootOptions, 'httpPort'>;
  /** Keep pxelinux.cfg/01-<mac> files written in this directory (for another TFTP server). */
  readonly exportDir?: string | undefined;
  /** The power-sync loop's interval, concurrency and failure limit; false to not run it. */
  readonly powerSync?: PowerSyncOptions | false;
  /** This server's URL for the others of a cluster (--peer-url); default from --http. */
  readonly peerUrl?: string | undefined;
}

/** --peer-url as given, else http://HOST:PORT of --http, with this host's name for a wildcard address. */
export function peerUrlOf(given: string | undefined, host: string, port: number): string {
  if (given !== undefined) return given.replace(/\/+$/, '');
  const name = host === '0.0.0.0' || host === '::' ? hostname() : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

export interface RunningAnvil {
  readonly services: Services;
  readonly app: FastifyInstance;
  readonly netboot: Netboot | undefined;
  /** The base URL the HTTP server listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** Resolves when everything has stopped. */
  readonly stopped: Promise<void>;
}

export async function startAnvil(options: AnvilOptions, signal: AbortSignal): Promise<RunningAnvil> {
  // Options win over the environment (ANVIL_POWER_SYNC_INTERVAL, …); false turns the loop off.
  const syncOptions = options.powerSync ?? powerSyncFromEnv(process.env);
  const changePollMs = changePollFromEnv(process.env);
  const services = await openServices({ ...options, drivers: { process: 'anvil serve', ...options.drivers } });
  // The key is made now if new (the other data directories of a cluster need a copy of it), and on
  // PostgreSQL checked against the one the other processes seal with.
  await checkClusterKey(services).catch(async (error: unknown) => {
    await services.close();
    throw error;
  });
  const resolver = options.resolver ?? new AddressResolver([arpTable()]);
  // This process's conductor: its locks say so, and it owns its share of the machines.
  const conductorId = await services.conductors.register();
  // Locks left by a crashed server or a killed CLI on this host, or by a dead conductor, protect nothing any more.
  const staleLocks = await services.control.locks.clearStale();
  let app: FastifyInstance;
  try {
    app = await buildServer(services, { ...options, resolver });
    await app.listen({ host: options.http.host, port: options.http.port, backlog: HTTP_BACKLOG });
  } catch (error) {
    await services.conductors.stop();
    await services.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw Object.assign(
        new Error(
          `cannot listen on ${options.http.host}:${options.http.port}: the port is in use; stop the other server or choose another with --http HOST:PORT`,
        ),
        { code: 'EADDRINUSE' },
      );
    }
    if ((error as NodeJS.ErrnoException).code === 'EACCES') {
      throw Object.assign(
        new Error(
          `cannot listen on ${options.http.host}:${options.http.port}: ports below 1024 need root (or CAP_NET_BIND_SERVICE); choose a port above 1023 with --http`,
        ),
        { code: 'EACCES' },
      );
    }
    throw error;
  }
  app.log.info(
    { conductor: conductorId, heartbeatS: services.conductors.heartbeatMs / 1000, deadAfterS: services.conductors.deadAfterMs / 1000 },
    services.store.dialect === 'sqlite'
      ? 'conductor registered; on SQLite it owns every machine'
      : 'conductor registered; it owns its share of the machines by the hash ring',
  );
  for (const lock of staleLocks) app.log.warn({ machine: lock.name, holder: lock.holder }, 'released the lock of a process that is gone');
  // On PostgreSQL other conductors may share the machines: each machine's work runs on its owner.
  if (services.store.dialect === 'postgres') joinCluster(services, app.log);
  const swept = {
    uploads: await services.testing.sweepUploads(),
    images: await services.images.sweep(),
    agent: await sweepAgentStaging(services.paths.tftpRoot),
  };
  const leftovers = [...swept.uploads, ...swept.images, ...swept.agent];
  if (leftovers.length > 0) {
    const bytes = leftovers.reduce((sum, file) => sum + file.bytes, 0);
    app.log.warn(
      { files: leftovers.length, bytes, uploads: swept.uploads.length, images: swept.images.length, agent: swept.agent.length },
      `removed ${leftovers.length} temp file(s), ${bytes} bytes, a crash left behind (in ${services.paths.data})`,
    );
  }
  for (const { machine, outcome } of await services.provisioner.recover()) app.log.warn({ machine, outcome }, 'provisioning after a restart');
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.http.port;
  const host = options.http.host === '0.0.0.0' || options.http.host === '::' ? '127.0.0.1' : options.http.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  await writeServerFile(services.paths.data, {
    pid: process.pid,
    url,
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    startedAt: services.clock().toISOString(),
  });
  services.provisioner.serveMediaFrom(options.publicUrl ?? url);
  // The URL the other processes of a cluster read this one's image files at; kept in the data
  // directory, so a command line adding an image there records the same holder.
  const peerUrl = peerUrlOf(options.peerUrl, options.http.host, port);
  services.images.holdFilesAs(peerUrl);
  await writeFile(services.paths.peerUrl, `${peerUrl}\n`, { mode: 0o640 });

  let netboot: Netboot | undefined;
  if (options.netboot?.tftp || options.netboot?.dhcp) {
    try {
      netboot = await startNetboot(services, resolver, { ...options.netboot, httpPort: port, publicUrl: options.publicUrl }, app.log);
      if (netboot.tftp) services.metrics.watchTftp(netboot.tftp);
      if (netboot.dhcp) services.metrics.watchDhcp(netboot.dhcp);
    } catch (error) {
      await app.close();
      await services.conductors.stop();
      await services.close();
      throw error;
    }
  }

  let exportTimer: NodeJS.Timeout | undefined;
  if (options.exportDir) {
    const dir = options.exportDir;
    const exportOnce = async () => {
      try {
        const report = await exportPxelinux(services, dir, options.publicUrl ?? url);
        if (report.written.length || report.removed.length || report.failed.length) app.log.info({ export: dir, ...report }, 'pxelinux files exported');
      } catch (error) {
        app.log.error({ err: error }, 'pxelinux export failed');
      }
    };
    await exportOnce();
    exportTimer = setInterval(exportOnce, EXPORT_INTERVAL_MS);
    exportTimer.unref();
  }

  const runTimeout = options.runTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
  const sweep = async () => {
    try {
      const expired = await services.testing.expire(runTimeout);
      if (expired > 0) app.log.warn({ expired }, 'test runs sent but never uploaded were marked error');
    } catch (error) {
      app.log.error({ err: error }, 'watchdog failed');
    }
  };
  await sweep();
  const timer = setInterval(sweep, Math.min(WATCHDOG_INTERVAL_MS, Math.max(1000, runTimeout / 10)));
  timer.unref();
  // Each conductor watches the deadlines of the machines it owns only (expire() asks).
  // Logged once while it fails (the database away), not every few seconds.
  let deadlinesFailing = false;
  const deadlines = setInterval(() => {
    services.provisioner.expire().then(
      (failed) => {
        deadlinesFailing = false;
        if (failed.length > 0) app.log.warn({ machines: failed }, 'deploys past their deadline failed');
      },
      (error: unknown) => {
        if (!deadlinesFailing) app.log.error({ err: error }, 'deploy deadline check failed');
        deadlinesFailing = true;
      },
    );
  }, DEADLINE_CHECK_MS);
  deadlines.unref();

  const powerSync =
    syncOptions === false
      ? undefined
      : new PowerSync(services.store.db, services.control, services.clock, {
          log: app.log,
          owns: (name) => services.conductors.owns(name),
          onPass: services.metrics.onPowerSync,
          ...syncOptions,
        });
  const syncing = new AbortController();
  powerSync?.start(syncing.signal);
  // Each heartbeat rebuilds the ring over the live conductors and releases what dead ones held:
  // their locks, their running work (interrupted, never run again) and their machines left
  // mid-deploy or mid-capture (resumed or failed by their new owners).
  let ring = services.conductors.ring;
  const takeovers = new Set<Promise<void>>();
  services.conductors.start(syncing.signal, app.log, async () => {
    const now = services.conductors.ring;
    if (now.members.length !== ring.members.length || now.members.some((m) => !ring.members.includes(m)))
      app.log.info({ conductors: now.members.length, was: ring.members.length }, 'the live conductors changed; machines re-shared by the hash ring');
    const before = ring;
    for (const lock of await services.control.locks.clearStale())
      app.log.warn({ machine: lock.name, holder: lock.holder }, 'released the lock of a conductor or process that is gone');
    if (services.store.dialect === 'postgres')
      for (const item of await services.work.interruptDead())
        app.log.warn({ machine: item.machine, kind: item.kind, work: item.id, conductor: item.conductor }, 'work of a dead conductor marked interrupted');
    // Only now: if the database failed above, the next heartbeat sees the same change and tries again.
    ring = now;
    const gone = before.members.filter((m) => !now.members.includes(m));
    if (services.store.dialect !== 'postgres' || gone.length === 0) return;
    const taken = (name: string) => gone.includes(before.owner(name) ?? '');
    // Not awaited: a boot from disk it redoes may take minutes, and the heartbeats must go on meanwhile.
    const recovering = services.provisioner
      .recover({ only: taken, stopped: `conductor ${gone.join(', ')}` })
      .then(
        (report) => {
          for (const { machine, outcome } of report) app.log.warn({ machine, outcome }, 'provisioning taken over from a conductor that is gone');
        },
        (error: unknown) => app.log.error({ err: error }, 'taking over the provisioning of a conductor that is gone failed'),
      )
      .finally(() => takeovers.delete(recovering));
    takeovers.add(recovering);
  });
  // The live pages also follow what the command line changes in the store, and on PostgreSQL
  // what the other anvil processes change, heard at once by LISTEN/NOTIFY (the poll is the fallback).
  const changePoll = new ChangePoll(services.store.db, services.changes);
  let pollFailing = false;
  changePoll.start(
    changePollMs,
    (error) => {
      if (!pollFailing) app.log.error({ err: error }, 'looking for other processes’ changes failed');
      pollFailing = true;
    },
    () => {
      pollFailing = false;
    },
  );
  const channel = services.store.channel(CHANGES_CHANNEL, { warn: (m) => app.log.warn(m), info: (m) => app.log.info(m) });
  const relay = channel
    ? new ChangeRelay(services.changes, channel, (error) =>
        app.log.warn({ err: error }, `could not tell the other anvil processes of a change: ${(error as Error).message}`),
      )
    : undefined;
  let listening = false;
  relay?.start(() => {
    if (!listening) app.log.info({ channel: CHANGES_CHANNEL }, 'hearing the other anvil processes’ changes on the database (LISTEN/NOTIFY)');
    listening = true;
  });

  const stopped = new Promise<void>((resolve) => {
    const stop = async () => {
      clearInterval(timer);
      clearInterval(deadlines);
      clearInterval(exportTimer);
      changePoll.stop();
      await relay?.stop();
      syncing.abort();
      await powerSync?.stop();
      app.log.info('stopping: finishing requests in flight');
      // A request that does not end (an image streaming to a machine that stalled, a client
      // that stopped reading) must not keep anvil from stopping: after the grace it is cut.
      const cut = setTimeout(() => {
        app.log.warn(`stopping: requests still in flight after ${SHUTDOWN_GRACE_MS / 1000} s are cut`);
        app.server.closeAllConnections();
      }, SHUTDOWN_GRACE_MS);
      cut.unref();
      await netboot?.close();
      await app.close();
      clearTimeout(cut);
      await Promise.allSettled([...takeovers]);
      // The work this conductor claimed ends before its row goes, so none is reported interrupted.
      await services.work.stop().catch((error: unknown) => app.log.warn({ err: error }, 'stopping the work queue failed'));
      await removeServerFile(services.paths.data).catch(() => undefined);
      // Last, once no operation of this process holds a lock: the others own its machines from their next heartbeat.
      await services.conductors.stop().catch((error: unknown) => app.log.warn({ err: error }, 'could not remove this conductor’s row'));
      await services.close();
      resolve();
    };
    if (signal.aborted) void stop();
    else signal.addEventListener('abort', () => void stop(), { once: true });
  });
  return { services, app, netboot, url, stopped };
}
