// For sites that keep their own TFTP server: writes pxelinux.cfg/01-<mac> for every machine
// (and `default`) rendered from its next-boot profile, as pxemngr's symlinks did. Files are
// replaced atomically and only when their content changed; files for MACs that are gone are
// removed. Static files cannot apply the once-rule at boot time: anvil's own TFTP can.
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Machines } from '../machines/machines.ts';
import { pxelinuxName } from '../machines/mac.ts';
import type { BootService } from './boot-service.ts';

/** How often `serve --export` rewrites the files (the database may change from pxemngr). */
export const EXPORT_INTERVAL_MS = 5_000;

export interface ExportReport {
  readonly written: string[];
  readonly unchanged: number;
  readonly removed: string[];
  readonly failed: Array<{ file: string; message: string }>;
}

export async function exportPxelinux(parts: { machines: Machines; boot: BootService }, dir: string, server: string): Promise<ExportReport> {
  const target = join(dir, 'pxelinux.cfg');
  await mkdir(target, { recursive: true });
  const wanted = new Map<string, () => Promise<string>>();
  for (const machine of await parts.machines.list()) {
    for (const mac of machine.macs) {
      wanted.set(pxelinuxName(mac), () => parts.boot.pxelinuxPreview({ name: machine.name, next_profile: machine.nextProfile }, mac, server));
    }
  }
  wanted.set('default', () => parts.boot.defaultConfig(server));

  const written: string[] = [];
  const failed: ExportReport['failed'] = [];
  let unchanged = 0;
  for (const [name, render] of wanted) {
    const file = join(target, name);
    try {
      const text = await render();
      const current = await readFile(file, 'utf8').catch(() => undefined);
      if (current === text) {
        unchanged++;
        continue;
      }
      await writeFile(`${file}.tmp`, text, { mode: 0o644 });
      await rename(`${file}.tmp`, file);
      written.push(name);
    } catch (error) {
      failed.push({ file, message: (error as Error).message });
    }
  }
  const removed: string[] = [];
  for (const entry of await readdir(target)) {
    if (/^01-([0-9a-f]{2}-){5}[0-9a-f]{2}$/.test(entry) && !wanted.has(entry)) {
      await rm(join(target, entry), { force: true });
      removed.push(entry);
    }
  }
  return { written, unchanged, removed, failed };
}
