// bin/anvil vcl: Apache VCL's provisioning interface by its own names, printing VCL's return
// values — 1/0, READY/RELOAD/POST_LOAD, MB — so a VCL site's module can shell out to it (or
// call the same operations under /api/v1/vcl/). --json prints the whole answer.
import { Command, Option } from 'commander';
import { userInfo } from 'node:os';
import type { Services } from '../app/compose.ts';
import { dataOption, openData } from './data.ts';
import { readServerFile } from '../app/server-file.ts';
import { AnvilError } from '../common/errors.ts';
import { printJson } from './output.ts';
import { runProgram } from './command.ts';

interface GlobalOptions {
  data?: string;
  json?: boolean;
}

const who = () => `${process.env.USER ?? userInfo().username} via bin/anvil vcl`;

async function withServices(cmd: Command, action: (s: Services, o: GlobalOptions) => Promise<void>): Promise<void> {
  const options = cmd.optsWithGlobals<GlobalOptions>();
  const services = await openData({ data: options.data, drivers: { process: 'anvil vcl' } });
  try {
    await action(services, options);
  } finally {
    await services.close();
  }
}

function needServer(s: Services, what: string): void {
  if (!readServerFile(s.paths.data)) {
    throw new AnvilError(
      'NO_SERVER',
      'unavailable',
      `no anvil server is serving ${s.paths.data}: ${what} needs one to answer the machine's agent; start it with: bin/anvil serve --data ${s.paths.data}`,
    );
  }
}

/** 1 or 0 by VCL's convention, with the reason on stderr when 0. */
async function oneOrZero(o: GlobalOptions, work: () => Promise<Record<string, unknown>>, ok: (answer: Record<string, unknown>) => boolean): Promise<void> {
  let answer: Record<string, unknown>;
  // A provision view has `error: null` of its own: only a thrown error is a failure by itself.
  let thrown = false;
  try {
    answer = await work();
  } catch (error) {
    if (!(error instanceof AnvilError)) throw error;
    answer = { error: { code: error.code, message: error.message } };
    thrown = true;
  }
  const success = !thrown && ok(answer);
  if (o.json) printJson({ result: success ? 1 : 0, ...answer });
  else {
    process.stdout.write(`${success ? 1 : 0}\n`);
    const error = answer.error as { message?: string } | string | null | undefined;
    const reason = (typeof error === 'object' ? error?.message : error) ?? (answer.deployment as { error?: string } | undefined)?.error;
    if (!success && reason) process.stderr.write(`anvil vcl: ${String(reason)}\n`);
  }
  if (!success) process.exitCode = 1;
}

export function buildVcl(): Command {
  const root = new Command('anvil vcl')
    .description(
      "Apache VCL's provisioning interface (node_status, load, capture, power_on, power_off, power_reset, get_current_image, get_image_size), printing VCL's return values",
    )
    .addOption(dataOption())
    .option('--json', 'print the whole answer as JSON')
    .showHelpAfterError()
    .exitOverride();

  root
    .command('node_status')
    .description('READY, RELOAD (each reason on stderr) or POST_LOAD, from ping, ssh, rpower, nodeset, nodetype and currentimage')
    .argument('<machine>')
    .option('--post-load', "say POST_LOAD while currentimage.txt lacks VCL's vcld_post_load tag")
    .action(async (machine: string, opts: { postLoad?: boolean }, c: Command) =>
      withServices(c, async (s, o) => {
        const status = await s.vcl.nodeStatus(machine, { postLoad: opts.postLoad === true });
        if (o.json) return printJson(status);
        process.stdout.write(`${status.status}\n`);
        for (const reason of status.reasons) process.stderr.write(`${reason}\n`);
      }),
    );

  root
    .command('load')
    .description('Deploy IMAGE to the machine and wait for the end: 1 when it is active with it')
    .argument('<machine>')
    .argument('<image>')
    .action(async (machine: string, image: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        needServer(s, 'load');
        await oneOrZero(
          o,
          async () => ({ ...(await s.vcl.load(machine, image, who())) }),
          (a) => a.provisionState === 'active' && a.image === image,
        );
        // Loaded, but VCL's currentimage.txt may not be there: say so (node_status will say RELOAD).
        const written = (await s.provisioner.view(machine).catch(() => undefined))?.deployment?.currentimage;
        if (!o.json && written?.startsWith('skipped')) process.stderr.write(`anvil vcl: currentimage.txt not written: ${written.slice('skipped '.length)}\n`);
      }),
    );

  root
    .command('capture')
    .description("Save the machine's disk as IMAGE and wait for the whole capture: 1 when the image is in the library")
    .argument('<machine>')
    .argument('<image>')
    .action(async (machine: string, image: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        needServer(s, 'capture');
        await oneOrZero(
          o,
          async () => ({ ...(await s.vcl.capture(machine, image, who())) }),
          (a) => a.provisionState === 'active' && (a.deployment as { state?: string } | undefined)?.state === 'done',
        );
      }),
    );

  for (const [verb, run] of [
    ['power_on', (s: Services, m: string) => s.vcl.power(m, 'on', who())],
    ['power_off', (s: Services, m: string) => s.vcl.power(m, 'off', who())],
    ['power_reset', (s: Services, m: string) => s.vcl.powerReset(m, who())],
  ] as const) {
    root
      .command(verb)
      .description(`${verb.replace('_', ' ')} through the machine's driver, a few tries with back-off, then a wait for the state: 1 or 0`)
      .argument('<machine>')
      .action(async (machine: string, _o, c: Command) =>
        withServices(c, async (s, o) =>
          oneOrZero(
            o,
            async () => ({ powerState: await run(s, machine) }),
            (a) => a.powerState === (verb === 'power_off' ? 'off' : 'on'),
          ),
        ),
      );
  }

  root
    .command('get_current_image')
    .description('The image named on the first line of currentimage.txt on the machine (over SSH); nothing and exit 1 when it cannot be read')
    .argument('<machine>')
    .action(async (machine: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        const image = await s.vcl.getCurrentImage(machine);
        if (o.json) printJson({ currentimage: image });
        else if (image) process.stdout.write(`${image}\n`);
        if (!image) process.exitCode = 1;
      }),
    );

  root
    .command('get_image_size')
    .description("The image's disk usage in the library in MB, as VCL's du-based get_image_size (--json: bytes too)")
    .argument('<image>')
    .action(async (image: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        const bytes = await s.vcl.getImageSize(image);
        const megabytes = Math.floor(bytes / 1024 / 1024);
        if (o.json) printJson({ image, bytes, megabytes });
        else process.stdout.write(`${megabytes}\n`);
      }),
    );

  return root;
}

export async function run(argv: string[]): Promise<number> {
  return runProgram(buildVcl(), argv, 'anvil vcl');
}
