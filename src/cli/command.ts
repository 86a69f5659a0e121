// The shape of one `bin/anvil` sub-command. Each command parses its own argv, so
// commands that mimic another tool (ipmitool, amttool) can follow that tool's syntax.
// commander is imported by the commands that build a program with it, not here: `anvil --help`
// and `anvil ipmi` load this file and would pay ~12 ms for a parser they never use.
import type { Command } from 'commander';
import { AnvilError } from '../common/errors.ts';

export interface CliCommand {
  /** The words that select it: 'serve', 'ipmi', 'bmc fake', 'lab vm create'. */
  readonly name: string;
  /** One line for `anvil --help`. */
  readonly summary: string;
  /** Runs with the arguments after the command's words; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad command-line usage: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'ANVIL_USAGE';
}

/**
 * Runs a commander program with anvil's exit codes: 0 done (or --help), 2 bad usage, 1 an
 * AnvilError (its message printed after `prefix`). Anything else is a bug and propagates.
 */
export async function runProgram(root: Command, argv: string[], prefix: string): Promise<number> {
  const { CommanderError } = await import('commander'); // already loaded by the caller's `root`
  try {
    await root.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError) {
      process.stderr.write(`${prefix}: ${error.message}\n`);
      return 2;
    }
    if (error instanceof AnvilError) {
      process.stderr.write(`${prefix}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
