// bin/anvil: finds the sub-command named by the leading words of argv and runs it.
import { commands } from './commands.ts';
import type { CliCommand } from './command.ts';
import { runCommand } from './run-command.ts';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 8);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: anvil <command> [options]',
    '',
    'anvil provisions bare-metal machines: power and boot devices through IPMI and Intel AMT,',
    'network boot (DHCP, TFTP, iPXE), images, and test runs. `anvil <command> --help` for more.',
    '',
    'Commands:',
    ...lines,
    '',
    'Options: --version   print the version',
    'Environment: ANVIL_DATA  data directory (default: the config file ~/.config/anvil/config, else the nearest ./anvil-data here or above)',
  ].join('\n');
}

/** anvil's version, from package.json (and the git commit when run from a checkout). */
async function version(): Promise<string> {
  const { readFileSync } = process.getBuiltinModule('node:fs');
  const root = new URL('../../', import.meta.url);
  const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
  try {
    const head = readFileSync(new URL('.git/HEAD', root), 'utf8').trim();
    const ref = head.startsWith('ref: ') ? readFileSync(new URL(`.git/${head.slice(5)}`, root), 'utf8').trim() : head;
    return `${version} (${ref.slice(0, 12)})`;
  } catch {
    return version;
  }
}

/**
 * The command whose words are the longest prefix of argv. bin/start.js checks that the build is
 * current for the commands whose words start argv, by this rule: change both together.
 */
export function findCommand(argv: readonly string[]): { command: CliCommand; rest: string[] } | undefined {
  let best: { command: CliCommand; rest: string[] } | undefined;
  for (const command of commands) {
    const words = command.name.split(' ');
    if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.command.name.split(' ').length)) {
      best = { command, rest: argv.slice(words.length) };
    }
  }
  return best;
}

/** Runs the command named by argv (the arguments after `anvil`); resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(usage() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    process.stdout.write(`anvil ${await version()}\n`);
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = commands.filter((c) => c.name.startsWith(argv[0] + ' '));
    if (group.length > 0) {
      // `anvil bmc --help` asks for the list: it is not a mistake.
      const asked = argv[1] === '--help' || argv[1] === '-h';
      const list = group.map((c) => `  anvil ${c.name}  ${c.summary}`).join('\n');
      (asked ? process.stdout : process.stderr).write(
        `${asked ? `Usage: anvil ${argv[0]} <command> [options]\n\nCommands:` : `anvil ${argv[0]}: expected one of:`}\n${list}\n`,
      );
      return asked ? 0 : 2;
    } else {
      process.stderr.write(`anvil: unknown command '${argv[0]}'; run 'anvil --help' for the list\n`);
    }
    return 2;
  }
  return runCommand(found.command, found.rest);
}

// bin/anvil imports this module (or its build) and calls run(); `node src/cli/anvil.ts` runs it directly.
if (import.meta.main) process.exitCode = await run(process.argv.slice(2));
