// bin/anvil image: the image library from the shell — upload (with a progress bar on a
// terminal), list, show, download, delete. Like pxemngr it acts on the data directory
// directly, with or without a server running; a running server sees an image as soon as it is
// whole and verified. From another host, PUT the file to /api/v1/images/NAME instead.
import { createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import type { Services } from '../app/compose.ts';
import { dataOption, openData } from './data.ts';
import { UPLOAD_FORMATS, type UploadFormat } from '../provisioning/image-format.ts';
import type { ImageView } from '../provisioning/images.ts';
import { printJson, table, when } from './output.ts';
import { bytes, ProgressBar } from './progress.ts';
import { UsageError, runProgram } from './command.ts';

interface GlobalOptions {
  data?: string;
  json?: boolean;
}

/** VCL's get_image_size: the disk usage in MB (du KiB / 1024, rounded down as VCL does). */
export const vclMegabytes = (diskUsage: number): number => Math.floor(diskUsage / 1024 / 1024);

async function withServices<T>(cmd: Command, action: (s: Services, o: GlobalOptions) => Promise<T>): Promise<T> {
  const options = cmd.optsWithGlobals<GlobalOptions>();
  const services = await openData({ data: options.data });
  try {
    return await action(services, options);
  } finally {
    await services.close();
  }
}

function describe(image: ImageView): string {
  return [
    `name:          ${image.name}`,
    `format:        ${image.format}`,
    `virtual size:  ${image.virtualSize} bytes (${bytes(image.virtualSize)})`,
    `stored size:   ${image.storedSize} bytes (${bytes(image.storedSize)})`,
    `disk usage:    ${image.diskUsage} bytes, ${vclMegabytes(image.diskUsage)} MB (get_image_size)`,
    `sha256:        ${image.sha256}`,
    `origin:        ${image.origin}${image.sourceMachine ? ` from ${image.sourceMachine}` : ''}`,
    `created:       ${when(image.createdAt)}`,
    ...(image.notes ? [`notes:         ${image.notes}`] : []),
  ].join('\n');
}

export function buildImage(): Command {
  const root = new Command('anvil image')
    .description(
      'The image library: disk images to deploy (raw, gzip, zstd; qcow2 is converted to raw), made by upload or capture.\nActs on the data directory directly, with or without a server running.',
    )
    .addOption(dataOption())
    .option('--json', 'print JSON for scripts')
    .showHelpAfterError()
    .exitOverride();

  root
    .command('upload')
    .description('Add an image file to the library; it is visible only once whole and verified')
    .argument('<file>', "the image file ('-' for stdin)")
    .requiredOption('--name <name>', 'the image name')
    .option('--sha256 <hex>', 'expected sha256 of the file (or of its disk content); refused on a mismatch')
    .addOption(new Option('--format <format>', 'what the file is (default: told by its first bytes)').choices([...UPLOAD_FORMATS]))
    .option('--notes <text>', 'a note kept with the image')
    .action(async (file: string, opts: { name: string; sha256?: string; format?: UploadFormat; notes?: string }, c: Command) => {
      let size = 0;
      if (file !== '-') {
        const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot read '${file}': ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
        });
        if (!info.isFile() && !info.isBlockDevice()) throw new UsageError(`'${file}' is not a file`);
        size = info.size;
      }
      await withServices(c, async (s, o) => {
        const bar = new ProgressBar(`uploading ${opts.name}`, size);
        let view: ImageView;
        // A file is read straight into the library's receive buffers; stdin's chunks go nowhere else, so each is freed once stored.
        const source =
          file === '-'
            ? undefined
            : await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
                throw new UsageError(`cannot read '${file}': ${error.message}`);
              });
        try {
          view = await s.images.import(source ? { file: source } : process.stdin, {
            name: opts.name,
            sha256: opts.sha256,
            format: opts.format,
            notes: opts.notes,
            onProgress: (n) => bar.update(n),
            freeChunks: true,
          });
        } finally {
          await source?.close();
          bar.update(size, size);
          bar.done();
        }
        if (o.json) return printJson(view);
        process.stdout.write(`${view.name}: ${view.format}, ${bytes(view.virtualSize)} of disk content, sha256 ${view.sha256}\n`);
      });
    });

  root
    .command('list')
    .description('The images in the library')
    .action(async (_o, c: Command) =>
      withServices(c, async (s, o) => {
        const list = await s.images.list();
        if (o.json) return printJson(list);
        if (list.length === 0) return void process.stdout.write('the library is empty; add an image with: anvil image upload FILE --name NAME\n');
        process.stdout.write(
          `${table(
            ['NAME', 'FORMAT', 'SIZE', 'STORED', 'DISK MB', 'ORIGIN', 'CREATED'],
            list.map((i) => [
              i.name,
              i.format,
              bytes(i.virtualSize),
              bytes(i.storedSize),
              String(vclMegabytes(i.diskUsage)),
              i.sourceMachine ? `${i.origin} (${i.sourceMachine})` : i.origin,
              when(i.createdAt),
            ]),
          )}\n`,
        );
      }),
    );

  root
    .command('show')
    .description("An image's sizes (get_image_size in bytes and VCL's MB), checksum and origin")
    .argument('<name>')
    .action(async (name: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        const view = await s.images.show(name);
        if (o.json) return printJson({ ...view, diskUsageMB: vclMegabytes(view.diskUsage) });
        process.stdout.write(`${describe(view)}\n`);
      }),
    );

  root
    .command('download')
    .description("Write an image's file as stored (raw, gzip or zstd) to FILE or stdout")
    .argument('<name>')
    .option('-o, --output <file>', 'where to write it (default stdout)')
    .action(async (name: string, opts: { output?: string }, c: Command) =>
      withServices(c, async (s) => {
        const image = await s.images.get(name);
        if (!opts.output && process.stdout.isTTY) throw new UsageError('refusing to write an image to a terminal; give -o FILE or redirect stdout');
        const bar = new ProgressBar(`downloading ${name}`, Number(image.stored_size));
        // The command line has no credentials to ask another process with: this data directory's file or an error naming who holds it.
        const { stream: source } = await s.images.open(image, { path: '', headers: {}, fromPeer: true });
        let sent = 0;
        source.on('data', (chunk: Buffer | string) => bar.update((sent += chunk.length)));
        await pipeline(source, opts.output ? createWriteStream(opts.output) : process.stdout);
        bar.done();
      }),
    );

  root
    .command('delete')
    .description('Remove an image (refused while a deploy uses it)')
    .argument('<name>')
    .action(async (name: string, _o, c: Command) =>
      withServices(c, async (s, o) => {
        await s.images.delete(name);
        if (o.json) return printJson({ deleted: name });
        process.stdout.write(`deleted image ${name}\n`);
      }),
    );

  return root;
}

export async function run(argv: string[]): Promise<number> {
  return runProgram(buildImage(), argv, 'anvil image');
}
