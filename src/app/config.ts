// Where anvil keeps its data: one directory holding the database, the boot profiles,
// the test scripts and the uploaded results. --profiles and --tests may point elsewhere,
// e.g. at an existing pxemngr installation. Which directory, as git finds its repository:
// --data, else ANVIL_DATA, else the config file's `data = DIR`, else the nearest anvil-data
// folder holding a database in the working directory or above it, else ./anvil-data.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

export const DEFAULT_DATA_DIR = './anvil-data';
export const DATA_DIR_NAME = 'anvil-data';
export const DATABASE_FILE = 'anvil.db';

/** $XDG_CONFIG_HOME/anvil/config (default ~/.config/anvil/config): `data = /srv/anvil`. */
export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'anvil', 'config');
}

export interface DataDirChoice {
  readonly dir: string;
  /** Why this one: 'the --data option', 'ANVIL_DATA', 'the config file ~/.config/anvil/config', 'found above', 'the default'. */
  readonly source: string;
}

/** The data directory to use, and why (see the module's comment). */
export function findDataDir(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DataDirChoice {
  if (explicit) return { dir: resolve(cwd, explicit), source: 'the --data option' };
  if (env.ANVIL_DATA) return { dir: resolve(cwd, env.ANVIL_DATA), source: 'ANVIL_DATA' };
  const config = configFile(env);
  try {
    const line = readFileSync(config, 'utf8')
      .split('\n')
      .map((l) => /^\s*data\s*=\s*(.+?)\s*$/.exec(l))
      .find(Boolean);
    if (line) return { dir: resolve(dirname(config), line[1]!.replace(/^~(?=\/|$)/, homedir())), source: `the config file ${config}` };
  } catch {
    // no config file: go on
  }
  for (let at = resolve(cwd); ; at = dirname(at)) {
    if (existsSync(join(at, DATA_DIR_NAME, DATABASE_FILE)))
      return { dir: join(at, DATA_DIR_NAME), source: at === resolve(cwd) ? 'the default' : `found above, in ${at}` };
    if (dirname(at) === at) break;
  }
  return { dir: resolve(cwd, DEFAULT_DATA_DIR), source: 'the default' };
}

export interface Paths {
  readonly data: string;
  readonly database: string;
  readonly tftpRoot: string;
  readonly profiles: string;
  readonly tests: string;
  readonly uploads: string;
  /** The image library's files. */
  readonly images: string;
  /** The site's SSH key and the machines' host keys (0700). */
  readonly ssh: string;
  /** Hooks: pre-capture.hook. */
  readonly hooks: string;
  /** The deploy agent as ISOs for virtual media, one per deployment that boots that way (0700). */
  readonly agentMedia: string;
  readonly secretKey: string;
  /** This data directory's server's URL for the others of a cluster (written by anvil serve; see provisioning/image-copies.ts). */
  readonly peerUrl: string;
}

export interface PathOptions {
  data?: string | undefined;
  profiles?: string | undefined;
  tests?: string | undefined;
}

export function resolvePaths(options: PathOptions = {}, env: NodeJS.ProcessEnv = process.env): Paths {
  const data = isAbsolute(options.data ?? '') ? options.data! : findDataDir(options.data, env).dir;
  const tftpRoot = join(data, 'tftp');
  return {
    data,
    database: join(data, DATABASE_FILE),
    tftpRoot,
    profiles: resolve(options.profiles ?? env.ANVIL_PROFILES ?? join(tftpRoot, 'pxelinux.cfg', 'profiles')),
    tests: resolve(options.tests ?? env.ANVIL_TESTS ?? join(data, 'tests')),
    uploads: join(data, 'uploads'),
    images: join(data, 'images'),
    ssh: join(data, 'ssh'),
    hooks: join(data, 'hooks'),
    agentMedia: join(data, 'agent-media'),
    secretKey: join(data, 'secret.key'),
    peerUrl: join(data, 'peer-url'),
  };
}

/** Creates the data directory's folders (not the profiles/tests folders the user pointed elsewhere). */
export function ensureDataDirs(paths: Paths): void {
  for (const dir of [paths.data, paths.tftpRoot, paths.profiles, paths.tests, paths.uploads, paths.images]) {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  }
}
