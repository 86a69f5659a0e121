// bin/anvil machine manage|provide|deploy|undeploy|abort|provision: a machine's provision
// state from the shell. `deploy` starts the deploy here (the machine is powered into its
// agent through its driver) and then follows it to the end with a progress line, as VCL's
// load does; the agent is answered by the `anvil serve` of the same data directory.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Services } from '../app/compose.ts';
import { readServerFile } from '../app/server-file.ts';
import type { ProvisionView } from '../provisioning/provisioner.ts';
import { TRANSIENT_STATES } from '../provisioning/states.ts';
import { AnvilError } from '../common/errors.ts';
import { printJson, when } from './output.ts';
import { bytes, ProgressBar } from './progress.ts';
import { UsageError } from './command.ts';

type WithServices = <T>(cmd: Command, action: (s: Services, o: { json?: boolean }) => Promise<T>) => Promise<T>;

/** How often a waiting `deploy` reads the machine's state. */
export const FOLLOW_INTERVAL_MS = 1000;

function summary(view: ProvisionView): string {
  const d = view.deployment;
  const lines = [`${view.name}: ${view.provisionState}${view.image ? `, image ${view.image}` : ''}`];
  if (view.error && !TRANSIENT_STATES.includes(view.provisionState as never)) lines.push(`  last error: ${view.error}`);
  if (d) {
    lines.push(
      `  ${d.kind} ${d.id} of ${d.image}: ${d.state}${d.phase ? ` (${d.phase})` : ''}, ${bytes(d.bytesDone)} of ${bytes(d.bytesTotal)}${d.device ? ` to ${d.device}` : ''}`,
    );
    lines.push(`  started ${when(d.startedAt)} by ${d.requestedBy}; ${d.finishedAt ? `ended ${when(d.finishedAt)}` : `deadline ${when(d.deadline)}`}`);
    if (d.error) lines.push(`  error: ${d.error}`);
    if (d.currentimage) lines.push(`  currentimage.txt: ${d.currentimage}`);
  }
  return lines.join('\n');
}

function seconds(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(Number.isInteger(n) && n > 0)) throw new UsageError(`${option} '${text}' must be a whole number of seconds`);
  return n;
}

/** Follows a deploy until the machine leaves the transient states; resolves to its last view. */
async function follow(s: Services, name: string, signal: AbortSignal): Promise<ProvisionView> {
  const bar = new ProgressBar(name, 0);
  try {
    for (;;) {
      const view = await s.provisioner.view(name);
      if (!TRANSIENT_STATES.includes(view.provisionState as never)) return view;
      const d = view.deployment;
      if (d) bar.update(d.bytesDone, d.bytesTotal, `${name}: ${view.provisionState}${d.phase ? ` (${d.phase})` : ''}`);
      await sleep(FOLLOW_INTERVAL_MS, undefined, { signal });
    }
  } finally {
    bar.done();
  }
}

export function addProvisionCommands(root: Command, withServices: WithServices, who: () => string): void {
  const verb = (name: 'manage' | 'provide' | 'undeploy' | 'abort', description: string) =>
    root
      .command(name)
      .description(description)
      .argument('<name>', 'machine name or MAC')
      .action(async (machine: string, _o, c: Command) =>
        withServices(c, async (s, o) => {
          const view = await s.provisioner[name](machine, who());
          if (o.json) return printJson(view);
          process.stdout.write(`${summary(view)}\n`);
        }),
      );
  verb('manage', 'Provision state → manageable (from enroll, available or a failure)');
  verb('provide', 'Provision state → available (from manageable): ready to deploy');
  verb('undeploy', 'Power the machine off and forget its image: active or failed → available');
  verb('abort', 'Stop a deploy in progress: its agent is refused from now on, the machine goes to deploy-failed');

  root
    .command('provision')
    .description("A machine's provision state, image, and its current or last deploy with progress")
    .argument('<name>', 'machine name or MAC')
    .action(async (machine: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        const view = await s.provisioner.view(machine);
        if (o.json) return printJson(view);
        process.stdout.write(`${summary(view)}\n`);
      }),
    );

  const startAndFollow = async (c: Command, machine: string, wait: boolean, what: string, begin: (s: Services) => Promise<ProvisionView>): Promise<void> =>
    withServices(c, async (s, o) => {
      if (!readServerFile(s.paths.data)) {
        throw new AnvilError(
          'NO_SERVER',
          'unavailable',
          `no anvil server is serving ${s.paths.data}: a ${what} needs one to answer the machine's agent; start it with: bin/anvil serve --data ${s.paths.data}`,
        );
      }
      const started = await begin(s);
      if (!wait) return o.json ? printJson(started) : void process.stdout.write(`${summary(started)}\n`);
      if (!o.json) process.stderr.write(`${started.name}: booting anvil's agent for the ${what}; Ctrl-C stops waiting (the ${what} goes on)\n`);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      let view: ProvisionView;
      try {
        view = await follow(s, started.name, stop.signal);
      } catch (error) {
        if (stop.signal.aborted) {
          process.stderr.write(`stopped waiting; follow it with: bin/anvil machine provision ${started.name}\n`);
          return;
        }
        throw error;
      } finally {
        process.removeListener('SIGINT', onSignal);
      }
      if (o.json) printJson(view);
      else process.stdout.write(`${summary(view)}\n`);
      if (view.provisionState !== 'active') process.exitCode = 1;
    });

  root
    .command('deploy')
    .description(
      "Write an image to the machine's disk (VCL's load): it netboots anvil's agent, which streams the image; then it boots its disk and is active. Waits for the end unless --no-wait.",
    )
    .argument('<name>', 'machine name or MAC')
    .requiredOption('--image <image>', 'the image (anvil image list)')
    .option('--timeout <seconds>', "fail the deploy if it has not finished by then (default: the machine's, then the server's, 30 min)")
    .option('--disk <device>', 'the disk to write, e.g. vda (default: the smallest the image fits)')
    .option('--no-wait', 'return once the machine is booting its agent')
    .action(async (machine: string, opts: { image: string; timeout?: string; disk?: string; wait: boolean }, c: Command) => {
      const timeoutS = seconds('--timeout', opts.timeout);
      await startAndFollow(c, machine, opts.wait, 'deploy', (s) => s.provisioner.deploy(machine, { image: opts.image, timeoutS, disk: opts.disk }, who()));
    });

  root
    .command('capture')
    .description(
      "Save the machine's disk as a new image (VCL's capture): its pre-capture hook runs, it powers off, netboots anvil's agent, which streams the disk compressed; the image appears once whole and verified, then the machine boots its disk again. Waits unless --no-wait.",
    )
    .argument('<name>', 'machine name or MAC')
    .requiredOption('--image <name>', 'the name of the new image')
    .option('--timeout <seconds>', 'fail the capture if it has not finished by then (default 6 h)')
    .option('--stall <seconds>', 'fail it after this long without progress (default 20 min)')
    .option('--disk <device>', 'the disk to read (default: the one deployed to, else the first fixed disk)')
    .option('--notes <text>', 'notes for the image')
    .option('--no-wait', 'return once the machine is booting its agent')
    .action(async (machine: string, opts: { image: string; timeout?: string; stall?: string; disk?: string; notes?: string; wait: boolean }, c: Command) => {
      const request = {
        image: opts.image,
        timeoutS: seconds('--timeout', opts.timeout),
        stallTimeoutS: seconds('--stall', opts.stall),
        disk: opts.disk,
        notes: opts.notes,
      };
      await startAndFollow(c, machine, opts.wait, 'capture', (s) => s.provisioner.capture(machine, request, who()));
    });
}
