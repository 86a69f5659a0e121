// Every `bin/anvil` sub-command, in the order `anvil --help` lists them.
// Each entry loads its module only when it runs, so one command's start-up never pays for another's.
import type { CliCommand } from './command.ts';

/** A command whose module is imported when it runs. */
export function lazy(name: string, summary: string, load: () => Promise<{ run(argv: string[]): Promise<number> }>): CliCommand {
  return { name, summary, run: async (argv) => (await load()).run(argv) };
}

// Add a command with one line: lazy('name', 'summary', () => import('./module.ts')).
export const commands: readonly CliCommand[] = [
];
