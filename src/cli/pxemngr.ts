// bin/pxemngr: the PXE Manager's commands, with the seed's words. They act on the configured
// database directly, with or without a server running; a running server sees changes at once.
import { Command, Option } from 'commander';
import type { Services } from '../app/compose.ts';
import type { ScanProblem } from '../common/template-dir.ts';
import { table, when, printJson } from './output.ts';
import { runProgram } from './command.ts';
import { dataOption, openData } from './data.ts';

interface GlobalOptions {
  data?: string;
  profiles?: string;
  tests?: string;
  json?: boolean;
}

function program(): Command {
  const cmd = new Command('pxemngr')
    .description(
      'Control what each machine boots from the network, and hand machines test scripts.\nThe server (bin/anvil serve) answers the machines; these commands change its database.',
    )
    .addOption(dataOption())
    .addOption(new Option('--profiles <dir>', 'boot profiles folder (default DATA/tftp/pxelinux.cfg/profiles)').env('ANVIL_PROFILES'))
    .addOption(new Option('--tests <dir>', 'test scripts folder (default DATA/tests)').env('ANVIL_TESTS'))
    .option('--json', 'print JSON for scripts')
    .showHelpAfterError()
    .exitOverride();
  cmd.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  return cmd;
}

/** template-dir.ts loads the template engine: imported when a sync reports, with the services already loaded. */
async function formatProblems(problems: readonly ScanProblem[]): Promise<string[]> {
  const { formatProblem } = await import('../common/template-dir.ts');
  return problems.map(formatProblem);
}

async function withServices<T>(cmd: Command, action: (s: Services, o: GlobalOptions) => Promise<T>): Promise<T> {
  const options = cmd.optsWithGlobals<GlobalOptions>();
  // openData imports the database, templates and drivers (~250 ms) only when a command runs.
  const services = await openData({ data: options.data, profiles: options.profiles, tests: options.tests });
  try {
    return await action(services, options);
  } finally {
    await services.close();
  }
}

/** What syncbootnames and synctestnames found; a file skipped for a problem makes the exit status 1. */
async function printSync(
  what: string,
  dir: string,
  report: { added: readonly string[]; kept: readonly string[]; removed: readonly string[]; problems: readonly ScanProblem[] },
  json: boolean,
): Promise<void> {
  const problems = await formatProblems(report.problems);
  if (json) return printJson({ ...report, problems });
  for (const p of problems) process.stderr.write(`skipped ${p}\n`);
  process.stdout.write(`${what} in ${dir}: ${[...report.added, ...report.kept].sort().join(' ') || '(none)'}\n`);
  if (report.added.length) process.stdout.write(`added: ${report.added.join(' ')}\n`);
  if (report.removed.length) process.stdout.write(`no longer available: ${report.removed.join(' ')}\n`);
  if (report.problems.length) process.exitCode = 1;
}

export function buildPxemngr(): Command {
  const root = program();
  for (const add of [syncBootNames, addSystem, delSystem, dpySystem, nextBoot, syncTestNames, nextTest, dpyTest]) add(root);
  return root;
}

/** pxemngr syncbootnames: records the profiles of the profiles folder. */
function syncBootNames(root: Command): void {
  root
    .command('syncbootnames')
    .description('Record the boot profiles (*.prof) found in the profiles folder; local.prof is mandatory')
    .action(async (_o, c: Command) =>
      withServices(c, async (s, o) => {
        await printSync('profiles', s.profiles.dir, await s.profiles.sync(new Date().toISOString()), o.json === true);
      }),
    );
}

/** pxemngr addsystem NAME MAC...: adds a machine, or MACs to one. */
function addSystem(root: Command): void {
  root
    .command('addsystem')
    .description('Add a machine with one or more MAC addresses (or add MACs to a machine)')
    .argument('<name>', 'machine name')
    .argument('<mac...>', 'MAC addresses: aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF or aabbccddeeff')
    .action(async (name: string, macs: string[], _o, c: Command) =>
      withServices(c, async (s, o) => {
        const result = await s.machines.add(name, macs);
        if (o.json) return printJson({ name, created: result.created, added: result.added });
        process.stdout.write(
          `${result.created ? 'added system' : 'updated system'} ${name}${result.added.length ? `: ${result.added.join(' ')}` : ' (MACs already registered)'}\n`,
        );
      }),
    );
}

/** pxemngr delsystem NAME: deletes a machine and what anvil keeps of it. */
function delSystem(root: Command): void {
  root
    .command('delsystem')
    .description('Delete a machine, its MACs, boot log and test runs')
    .argument('<name>', 'machine name')
    .action(async (name: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        await s.machines.remove(name);
        if (o.json) return printJson({ deleted: name });
        process.stdout.write(`deleted system ${name}\n`);
      }),
    );
}

/** pxemngr dpysystem [NAME|MAC] [-l]: one machine with its last boots, or every machine. */
function dpySystem(root: Command): void {
  root
    .command('dpysystem')
    .description('Display a machine (by name or MAC) with its last boots, or every machine with -l')
    .argument('[name|mac]', 'machine name or one of its MACs')
    .option('-l, --list', 'list every machine')
    .action(async (what: string | undefined, opts: { list?: boolean }, c: Command) =>
      withServices(c, async (s, o) => {
        if (opts.list || what === undefined) {
          const machines = await s.nextBoot.fleet();
          if (o.json) return printJson(machines);
          if (machines.length === 0) return void process.stdout.write('no systems; add one with: pxemngr addsystem NAME MAC\n');
          process.stdout.write(
            table(
              ['NAME', 'MACS', 'NEXT BOOT', 'LAST BOOT'],
              machines.map((m) => [
                m.name,
                m.macs.join(','),
                m.nextProfile + (m.nextOnce ? ' (once)' : ''),
                m.lastBoot ? `${m.lastBoot.profile} at ${when(m.lastBoot.at)}` : '-',
              ]),
            ) + '\n',
          );
          return;
        }
        const machine = await s.machines.find(what);
        const macs = await s.machines.macsOf(machine.id);
        const log = await s.nextBoot.log(machine.id, 10);
        if (o.json)
          return printJson({
            name: machine.name,
            macs,
            next_profile: machine.next_profile,
            next_once: machine.next_once === 1,
            version: machine.version,
            boot_log: log,
          });
        process.stdout.write(
          [
            `system:    ${machine.name}`,
            `macs:      ${macs.join(' ')}`,
            `next boot: ${machine.next_profile}${machine.next_once ? ' (once, then local)' : ''}`,
            `version:   ${machine.version ?? '-'}`,
            '',
            log.length
              ? table(
                  ['WHEN', 'EVENT', 'PROFILE', 'WHY'],
                  log.map((e) => [
                    when(e.at),
                    e.kind === 'boot' ? 'booted' : 'next boot',
                    e.profile,
                    e.kind === 'boot' ? [e.loader, e.arch, e.address].filter(Boolean).join(' ') || e.reason : e.reason,
                  ]),
                )
              : 'no boots logged yet',
          ].join('\n') + '\n',
        );
      }),
    );
}

/** pxemngr nextboot NAME PROFILE [--once]: what a machine boots next. */
function nextBoot(root: Command): void {
  root
    .command('nextboot')
    .description("Set the profile a machine boots next ('default' sets it for unknown machines)")
    .argument('<name|default>', 'machine name, one of its MACs, or default')
    .argument('<profile>', 'profile name (a *.prof file, synced with syncbootnames)')
    .option('--once', 'boot the profile once, then fall back to local')
    .action(async (name: string, profile: string, opts: { once?: boolean }, c: Command) =>
      withServices(c, async (s, o) => {
        await s.nextBoot.set(name, profile, { once: opts.once === true, reason: 'operator' });
        if (o.json) return printJson({ name, profile, once: opts.once === true });
        process.stdout.write(`${name} will boot ${profile}${opts.once ? ' once, then local' : ''}\n`);
      }),
    );
}

/** pxemngr synctestnames: records the test scripts of the tests folder. */
function syncTestNames(root: Command): void {
  root
    .command('synctestnames')
    .description('Record the test scripts (*.test) found in the tests folder; wait.test is mandatory')
    .action(async (_o, c: Command) =>
      withServices(c, async (s, o) => {
        await printSync('tests', s.testing.dir, await s.testing.sync(), o.json === true);
      }),
    );
}

/** pxemngr nexttest NAME TEST...: queues tests for a machine. */
function nextTest(root: Command): void {
  root
    .command('nexttest')
    .description('Queue one or more tests for a machine; it gets them in order from /nexttest/')
    .argument('<name>', 'machine name or MAC')
    .argument('<test...>', 'test names (*.test files, synced with synctestnames)')
    .action(async (name: string, tests: string[], _o, c: Command) =>
      withServices(c, async (s, o) => {
        const machine = await s.machines.find(name);
        const runs = await s.testing.queue(machine, tests);
        if (o.json) return printJson(runs);
        for (const run of runs) process.stdout.write(`queued ${run.test} for ${machine.name} as run ${run.id}\n`);
      }),
    );
}

/** pxemngr dpytest NAME: the tests run or queued for a machine. */
function dpyTest(root: Command): void {
  root
    .command('dpytest')
    .description('Display the tests run or queued for a machine')
    .argument('<name>', 'machine name or MAC')
    .action(async (name: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        const machine = await s.machines.find(name);
        const runs = await s.testing.runsOf(machine.id);
        if (o.json) return printJson(runs);
        if (runs.length === 0) return void process.stdout.write(`no tests for ${machine.name}; queue one with: pxemngr nexttest ${machine.name} TEST\n`);
        process.stdout.write(
          table(
            ['RUN', 'TEST', 'STATE', 'REQUESTED', 'FINISHED', 'I', 'W', 'E', 'VERSION'],
            runs.map((r) => [
              String(r.id),
              r.test,
              r.state,
              when(r.requested_at),
              when(r.finished_at),
              String(r.infos),
              String(r.warnings),
              String(r.errors),
              r.version ?? (r.error_reason ? `(${r.error_reason})` : '-'),
            ]),
          ) + '\n',
        );
      }),
    );
}

export async function run(argv: string[]): Promise<number> {
  return runProgram(buildPxemngr(), argv, 'pxemngr');
}

if (import.meta.main) process.exitCode = await run(process.argv.slice(2));
