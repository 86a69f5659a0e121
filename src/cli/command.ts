// The shape of one `bin/anvil` sub-command. Each command parses its own argv, so
// commands that mimic another tool (ipmitool, amttool) can follow that tool's syntax.

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
