// The composition root: opens anvil's store and builds its parts over it, each given what it
// uses. The server, the CLI commands and the tests start here; no other part imports it.
import { existsSync, readFileSync } from 'node:fs';
import { resolvePaths, ensureDataDirs, type PathOptions, type Paths } from './config.ts';
import { openStore, systemClock, type Clock, type Store } from '../store/store.ts';
import { Machines } from '../machines/machines.ts';
import { MachineEvents } from '../machines/events.ts';
import { MachineChanges } from '../machines/changes.ts';
import { Profiles } from '../boot/profiles.ts';
import { NextBoot } from '../boot/next-boot.ts';
import { Discovered, type DiscoveredLimits } from '../boot/discovered.ts';
import { BootService } from '../boot/boot-service.ts';
import { Testing } from '../testing/testing.ts';
import { Tokens } from '../auth/tokens.ts';
import { WebSessions } from '../auth/sessions.ts';
import { SecretBox } from '../drivers/secrets.ts';
import { AnvilError } from '../common/errors.ts';
import { MachineControl, type ControlOptions } from '../conductor/machine-control.ts';
import { httpBootFiles } from './boot-files.ts';
import { ImageLibrary } from '../provisioning/images.ts';
import { Deployments } from '../provisioning/deployments.ts';
import { Provisioner } from '../provisioning/provisioner.ts';
import { DEFAULT_AGENT_BUILD, stageAgent } from '../provisioning/agent-files.ts';
import { readServerFile } from './server-file.ts';
import { SiteSsh } from '../provisioning/ssh.ts';
import { preCaptureHook } from '../provisioning/hooks.ts';
import { Vcl } from '../provisioning/vcl.ts';
import { Properties } from '../machines/properties.ts';
import { StaleWatch } from '../conductor/stale.ts';
import { Conductors, conductorFromEnv, type ConductorOptions } from '../conductor/conductors.ts';
import { WorkQueue } from '../conductor/work.ts';
import { AnvilMetrics } from './metrics.ts';

export interface Services {
  readonly paths: Paths;
  /** True when the database did not exist and was just made (empty). */
  readonly fresh: boolean;
  readonly store: Store;
  readonly clock: Clock;
  readonly machines: Machines;
  readonly events: MachineEvents;
  /** What changed on which machine, as it happens in this process (the live pages follow it). */
  readonly changes: MachineChanges;
  readonly profiles: Profiles;
  /** Next-boot profiles, the once-rule and the boot log. */
  readonly nextBoot: NextBoot;
  /** Machines seen booting that anvil does not know. */
  readonly discovered: Discovered;
  /** The one answer to "what does this machine boot?". */
  readonly boot: BootService;
  readonly testing: Testing;
  readonly tokens: Tokens;
  readonly sessions: WebSessions;
  /** Power and boot device through each machine's driver, as tasks holding its lock. */
  readonly control: MachineControl;
  /** The key BMC passwords and agent tokens are sealed with (DATA/secret.key, one for a whole cluster). */
  readonly secrets: SecretBox;
  /** The image library. */
  readonly images: ImageLibrary;
  /** Provision states, deploys and the deploy agent's side of them. */
  readonly provisioner: Provisioner;
  /** VCL's provisioning interface by its own names. */
  readonly vcl: Vcl;
  /** How anvil reaches machines' operating systems. */
  readonly properties: Properties;
  readonly ssh: SiteSsh;
  /** What is stuck: overdue runs, silent boots, quiet deploys. */
  readonly stale: StaleWatch;
  /** What /metrics shows; the server adds its own servers' counters. */
  readonly metrics: AnvilMetrics;
  /** The conductors sharing the database and the hash ring over the live ones; `anvil serve` registers this process's. */
  readonly conductors: Conductors;
  /** Operations on machines another conductor owns go to it through here (started by `anvil serve` on PostgreSQL: joinCluster). */
  readonly work: WorkQueue;
  close(): Promise<void>;
}

export interface ServiceOptions extends PathOptions {
  clock?: Clock;
  /** postgres://… instead of the data directory's SQLite file. */
  databaseUrl?: string | undefined;
  /** Driver clients' timeouts and the process name in lock holders. */
  drivers?: ControlOptions | undefined;
  /** Where the deploy agent is built (default .tools/anvil-agent of this checkout). */
  agentBuild?: string | undefined;
  /** Seconds a deploy may take unless the machine or the request says otherwise. */
  deployTimeoutS?: number | undefined;
  /** The discovered list's bounds (rows, field lengths, per-source rate); the defaults when absent. */
  discovered?: DiscoveredLimits | undefined;
  /** Heartbeat interval and dead-after timeout; default ANVIL_CONDUCTOR_HEARTBEAT/_DEAD_AFTER, else 10 s and 30 s. */
  conductor?: Pick<ConductorOptions, 'heartbeatMs' | 'deadAfterMs' | 'virtualNodes'> | undefined;
}

/** The URL anvil serve last recorded for this data directory, if it ever ran here. */
function peerUrlIn(paths: Paths): string | undefined {
  try {
    return readFileSync(paths.peerUrl, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function openServices(options: ServiceOptions = {}): Promise<Services> {
  const paths = resolvePaths(options);
  ensureDataDirs(paths);
  const clock = options.clock ?? systemClock;
  const databaseUrl = options.databaseUrl ?? process.env.ANVIL_DATABASE_URL;
  const fresh = !databaseUrl && !existsSync(paths.database);
  const store = await openStore(databaseUrl ? { postgresUrl: databaseUrl } : { sqlitePath: paths.database });
  const { db } = store;
  const machines = new Machines(db, clock);
  const changes = new MachineChanges();
  const events = new MachineEvents(db, clock, changes);
  const profiles = new Profiles(db, paths.profiles);
  const nextBoot = new NextBoot(db, machines, profiles, clock, changes);
  const discovered = new Discovered(db, clock, options.discovered);
  const secrets = new SecretBox(paths.secretKey);
  const metrics = new AnvilMetrics();
  const control = new MachineControl({ db, machines, events, secrets, clock }, { onDriverCall: metrics.onDriverCall, ...options.drivers });
  const images = new ImageLibrary(db, paths.images, clock, peerUrlIn(paths));
  const agentBuild = options.agentBuild ?? process.env.ANVIL_AGENT_BUILD ?? DEFAULT_AGENT_BUILD;
  const ssh = new SiteSsh(paths.ssh);
  const provisioner = new Provisioner(
    {
      ssh,
      db,
      machines,
      events,
      nextBoot,
      control,
      images,
      deployments: new Deployments(db, secrets, clock, changes),
      clock,
      stageAgent: () => stageAgent(agentBuild, paths.tftpRoot),
      agentMedia: {
        dir: paths.agentMedia,
        tftpRoot: paths.tftpRoot,
        serverUrl: () => {
          const served = readServerFile(paths.data);
          return served?.publicUrl ?? served?.url;
        },
      },
    },
    { defaultTimeoutS: options.deployTimeoutS, preCapture: preCaptureHook(paths.hooks, ssh) },
  );
  const testing = new Testing(db, store.dialect, paths.tests, paths.uploads, clock, changes);
  const stale = new StaleWatch(db, clock);
  metrics.watchServices({ machines, nextBoot, testing, provisioner, stale });
  metrics.watchDiscovered(discovered);
  // On SQLite one process serves the data directory: its conductor owns every machine.
  const conductors = new Conductors(db, clock, { ...conductorFromEnv(process.env), ...options.conductor, ownsAll: store.dialect === 'sqlite' });
  control.tasks.locks.useConductors(conductors);
  const work = new WorkQueue(db, conductors, clock, { rowLocks: store.dialect === 'postgres', away: (error) => store.away(error) });
  const boot = new BootService({ machines, nextBoot, discovered, profiles, files: httpBootFiles(paths.tftpRoot), agent: provisioner });
  return {
    paths,
    fresh,
    store,
    clock,
    machines,
    events,
    changes,
    profiles,
    nextBoot,
    discovered,
    boot,
    control,
    secrets,
    images,
    provisioner,
    vcl: new Vcl({ machines, control, provisioner, images, ssh }),
    properties: new Properties(db, clock),
    ssh,
    testing,
    stale,
    metrics,
    conductors,
    work,
    tokens: new Tokens(db, clock),
    sessions: new WebSessions(db, clock),
    close: async () => {
      await work.stop();
      await provisioner.stop();
      await control.close();
      await store.close();
    },
  };
}

/**
 * Makes this registered conductor one of a cluster's (anvil serve on PostgreSQL): power,
 * boot-device and provisioning work runs on each machine's owner conductor, through the work
 * queue when this process is not it, and this one claims the queued work of its machines.
 */
/** settings key of the fingerprint of the key a PostgreSQL database's secrets are sealed with. */
export const SECRET_KEY_SETTING = 'secret_key_fingerprint';

/**
 * On PostgreSQL every process must seal with one key: the first to start records its key's
 * fingerprint, and a process with another key is refused before it serves — it could open
 * none of the BMC passwords and agent tokens the others sealed. (On SQLite one process owns
 * the database; a replaced key there is reported per secret, and fixed by setting them again.)
 */
export async function checkClusterKey(services: Services): Promise<void> {
  services.secrets.ensureKey();
  if (services.store.dialect !== 'postgres') return;
  const { db } = services.store;
  const mine = services.secrets.fingerprint();
  await db
    .insertInto('settings')
    .values({ key: SECRET_KEY_SETTING, value: mine })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const recorded = await db.selectFrom('settings').select('value').where('key', '=', SECRET_KEY_SETTING).executeTakeFirstOrThrow();
  if (recorded.value !== mine)
    throw new AnvilError(
      'SECRET_KEY_MISMATCH',
      'conflict',
      `${services.paths.secretKey} is not the key the other anvil processes on this database seal secrets with, so this one could not open their BMC passwords and agent tokens: copy secret.key from the data directory of one of them over this one (README: Running a cluster), then start again`,
    );
}

export function joinCluster(services: Services, log: { warn(fields: object, message: string): void; error(fields: object, message: string): void }): void {
  const { conductors, work } = services;
  services.control.useWork(work);
  services.provisioner.useConductor({ owns: (name) => conductors.owns(name), work });
  work.start(log);
}
