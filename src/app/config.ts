// Where anvil keeps its data: one directory holding the database, the boot profiles,
// the test scripts and the uploaded results. --profiles and --tests may point elsewhere,
// e.g. at an existing pxemngr installation.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DEFAULT_DATA_DIR = './anvil-data';

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
  readonly secretKey: string;
}

export interface PathOptions {
  data?: string | undefined;
  profiles?: string | undefined;
  tests?: string | undefined;
}

export function resolvePaths(options: PathOptions = {}, env: NodeJS.ProcessEnv = process.env): Paths {
  const data = resolve(options.data ?? env.ANVIL_DATA ?? DEFAULT_DATA_DIR);
  const tftpRoot = join(data, 'tftp');
  return {
    data,
    database: join(data, 'anvil.db'),
    tftpRoot,
    profiles: resolve(options.profiles ?? env.ANVIL_PROFILES ?? join(tftpRoot, 'pxelinux.cfg', 'profiles')),
    tests: resolve(options.tests ?? env.ANVIL_TESTS ?? join(data, 'tests')),
    uploads: join(data, 'uploads'),
    images: join(data, 'images'),
    ssh: join(data, 'ssh'),
    hooks: join(data, 'hooks'),
    secretKey: join(data, 'secret.key'),
  };
}

/** Creates the data directory's folders (not the profiles/tests folders the user pointed elsewhere). */
export function ensureDataDirs(paths: Paths): void {
  for (const dir of [paths.data, paths.tftpRoot, paths.profiles, paths.tests, paths.uploads, paths.images]) {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  }
}
