// Opens anvil's store and builds its services over it: the one place they are wired
// together, used by the server, the CLI commands and the tests.
import { resolvePaths, ensureDataDirs, type PathOptions, type Paths } from './config.ts';
import { openStore, systemClock, type Clock, type Store } from './store/store.ts';
import { Profiles } from './boot/profiles.ts';
import { Machines } from './boot/machines.ts';
import { Testing } from './testing/testing.ts';
import { Tokens } from './auth/tokens.ts';
import { SecretBox } from './drivers/secrets.ts';
import { MachineControl, type ControlOptions } from './conductor/machine-control.ts';

export interface Services {
  readonly paths: Paths;
  readonly store: Store;
  readonly clock: Clock;
  readonly profiles: Profiles;
  readonly machines: Machines;
  readonly testing: Testing;
  readonly tokens: Tokens;
  /** Power and boot device through each machine's driver, under its lock. */
  readonly control: MachineControl;
  close(): Promise<void>;
}

export interface ServiceOptions extends PathOptions {
  clock?: Clock;
  /** postgres://… instead of the data directory's SQLite file. */
  databaseUrl?: string | undefined;
  /** Driver clients' timeouts and the process name in lock holders. */
  drivers?: ControlOptions | undefined;
}

export async function openServices(options: ServiceOptions = {}): Promise<Services> {
  const paths = resolvePaths(options);
  ensureDataDirs(paths);
  const clock = options.clock ?? systemClock;
  const databaseUrl = options.databaseUrl ?? process.env.ANVIL_DATABASE_URL;
  const store = await openStore(databaseUrl ? { postgresUrl: databaseUrl } : { sqlitePath: paths.database });
  const profiles = new Profiles(store.db, paths.profiles);
  const machines = new Machines(store.db, profiles, clock);
  const control = new MachineControl(store.db, machines, new SecretBox(paths.secretKey), clock, options.drivers);
  return {
    paths,
    store,
    clock,
    profiles,
    machines,
    control,
    testing: new Testing(store.db, store.dialect, paths.tests, paths.uploads, clock),
    tokens: new Tokens(store.db, clock),
    close: async () => {
      await control.close();
      await store.close();
    },
  };
}
