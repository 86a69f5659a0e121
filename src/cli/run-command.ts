// Runs one sub-command with anvil's exit codes and error lines. The dispatcher (anvil.ts) calls
// it, and so does each single-command script build that bin/start.js runs for `anvil <command>`
// (scripts/build-cli.ts), which must behave as the dispatcher does.
import { UsageError } from './command.ts';
import type { CliCommand } from './command.ts';

/** Runs `command` with the arguments after its words: 0 done, 2 bad usage, 1 any other error (its message printed). */
export async function runCommand(command: Pick<CliCommand, 'name' | 'run'>, rest: string[]): Promise<number> {
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`anvil ${command.name}: ${error.message}\nRun 'anvil ${command.name} --help' for usage.\n`);
      return 2;
    }
    const code = (error as { code?: unknown }).code;
    process.stderr.write(`anvil ${command.name}: ${(error as Error).message}${typeof code === 'string' ? ` [${code}]` : ''}\n`);
    return 1;
  }
}
