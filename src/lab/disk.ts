// A lab VM's disk image, created sparse with qemu-img the first time it is needed.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { LabVmDefinition } from './definition.ts';

const exec = promisify(execFile);

/** Creates the VM's disk image with qemu-img if it does not exist yet. */
export async function ensureDisk(def: LabVmDefinition): Promise<void> {
  if (!def.disk || existsSync(def.disk.path)) return;
  await mkdir(dirname(def.disk.path), { recursive: true, mode: 0o700 });
  await exec('qemu-img', ['create', '-q', '-f', def.disk.format, def.disk.path, def.disk.size]);
}
