// bin/anvil export-pxelinux DIR: writes pxelinux.cfg/01-<mac> for every machine once, for
// sites that keep their own TFTP server (serve --export DIR keeps them up to date).
import { Command } from 'commander';
import { openData } from './data.ts';
import { exportPxelinux } from '../boot/export-pxelinux.ts';
import { dataOptions, parseCommand } from './serve.ts';

export async function run(argv: string[]): Promise<number> {
  let code = 0;
  const cmd = dataOptions(
    new Command('anvil export-pxelinux').description(
      "Write DIR/pxelinux.cfg/01-<mac> (and default) from each machine's next-boot profile, for a TFTP server of your own",
    ),
  )
    .argument('<dir>', 'the TFTP root to write into')
    .requiredOption('--public-url <url>', 'the base URL profiles see as {{ server }}, e.g. http://10.0.0.1:8080')
    .action(async (dir: string, o: { data: string; profiles?: string; tests?: string; publicUrl: string }) => {
      const s = await openData(o);
      try {
        const report = await exportPxelinux(s, dir, o.publicUrl.replace(/\/$/, ''));
        process.stdout.write(`${dir}/pxelinux.cfg: ${report.written.length} written, ${report.unchanged} unchanged, ${report.removed.length} removed\n`);
        for (const f of report.failed) process.stderr.write(`failed ${f.file}: ${f.message}\n`);
        if (report.failed.length) code = 1;
      } finally {
        await s.close();
      }
    });
  await parseCommand(cmd, argv);
  return code;
}
