// Opens anvil's store and builds its services over it: the one place they are wired
// together, used by the server, the CLI commands and the tests.
import { resolvePaths, ensureDataDirs, type PathOptions, type Paths } from './config.ts';
import { openStore, systemClock, type Clock, type Store } from './store/store.ts';
import { Profiles } from './boot/profiles.ts';
import { Machines } from './boot/machines.ts';
import { Testing } from './testing/testing.ts';
import { Tokens } from './auth/tokens.ts';

export interface Services {
  readonly paths: Paths;
  readonly store: Store;
  readonly clock: Clock;
  readonly profiles: Profiles;
  readonly machines: Machines;
  readonly testing: Testing;
  readonly tokens: Tokens;
  close(): Promise<void>;
}

export interface ServiceOptions extends PathOptions {
  clock?: Clock;
  /** postgres://… instead of the data directory's SQLite file. */
  databaseUrl?: string | undefined;
}

export async function openServices(options: ServiceOptions = {}): Promise<Services> {
  const paths = resolvePaths(options);
  ensureDataDirs(paths);
  const clock = options.clock ?? systemClock;
  const databaseUrl = options.databaseUrl ?? process.env.ANVIL_DATABASE_URL;
  const store = await openStore(databaseUrl ? { postgresUrl: databaseUrl } : { sqlitePath: paths.database });
  const profiles = new Profiles(store.db, paths.profiles);
  return {
    paths,
    store,
    clock,
    profiles,
    machines: new Machines(store.db, profiles, clock),
    testing: new Testing(store.db, store.dialect, paths.tests, paths.uploads, clock),
    tokens: new Tokens(store.db, clock),
    close: () => store.close(),
  };
}
