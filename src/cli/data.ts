// The --data option every command shares, and opening the data directory from the shell: a
// command that finds no database where it looks says so, instead of quietly working on a new,
// empty one (a pxemngr run from another folder once did).
import { Option } from 'commander';
import { configFile } from '../app/config.ts';
import type { ServiceOptions, Services } from '../app/compose.ts';

export const DATA_HELP = `data directory (default: ANVIL_DATA, else ${configFile().replace(process.env.HOME ?? '~', '~')}'s data = DIR, else the nearest ./anvil-data here or above)`;

export function dataOption(): Option {
  return new Option('--data <dir>', DATA_HELP);
}

/** openServices, with a warning on stderr when it had to make a new, empty database. */
export async function openData(options: ServiceOptions): Promise<Services> {
  // Imported when used: `--help` and a mistyped command should not load the whole server.
  const { openServices } = await import('../app/compose.ts');
  const services = await openServices(options);
  if (services.fresh) {
    process.stderr.write(
      `anvil: no database was in ${services.paths.data}: made a new, empty one. If you meant another, give --data DIR or set ANVIL_DATA (it looked for anvil-data here and in the folders above)\n`,
    );
  }
  return services;
}
