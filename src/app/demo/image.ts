// The disk image the demo deploys to its QEMU machines: the tiny Linux on a bootable disk
// (src/lab/disk-image.ts, built by scripts/install), its kernel told to reach anvil at the lab
// network's guest address and to run the machine's next test and upload it. The demo puts it
// into the image library as an upload (once per build: a rebuilt tiny Linux replaces it).
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Services } from '../compose.ts';
import { buildDiskImage, diskImageMissing, type DiskImage } from '../../lab/disk-image.ts';
import { GUEST_ANVIL } from '../../lab/guest-network.ts';
import { DEFAULT_AGENT_BUILD } from '../../provisioning/agent-files.ts';
import type { ImageView } from '../../provisioning/images.ts';

/** The image's name in the library. */
export const DEMO_IMAGE = 'demo-tiny-linux';
const NOTES = "anvil demo: the tiny Linux on a bootable disk; each boot runs the machine's next test, uploads it and powers off";

/** Why the demo cannot deploy its image here (and what to run), or undefined when it can. */
export function demoImageMissing(agentBuild = process.env.ANVIL_AGENT_BUILD ?? DEFAULT_AGENT_BUILD): string | undefined {
  if (!existsSync(join(agentBuild, 'vmlinuz')) || !existsSync(join(agentBuild, 'initrd.gz')))
    return `the deploy agent is not built in ${agentBuild} (scripts/install builds it)`;
  return diskImageMissing();
}

/** The demo's disk image, built where it is not (cached under .tools/disk-images/). */
export function demoDiskImage(): DiskImage {
  return buildDiskImage({ server: GUEST_ANVIL });
}

/** The image in the library: uploaded when missing or of another build. */
export async function ensureDemoImage(services: Pick<Services, 'images'>, log: (line: string) => void): Promise<ImageView> {
  const built = demoDiskImage();
  const existing = (await services.images.list()).find((i) => i.name === DEMO_IMAGE);
  if (existing?.sha256 === built.sha256) return existing;
  if (existing) {
    log(`image ${DEMO_IMAGE} is of an older build of the tiny Linux: replacing it`);
    await services.images.delete(DEMO_IMAGE);
  }
  const view = await services.images.import(createReadStream(built.path), { name: DEMO_IMAGE, sha256: built.sha256, format: 'raw', notes: NOTES });
  log(`uploaded image ${DEMO_IMAGE} into the library (${(view.virtualSize / 1024 / 1024).toFixed(0)} MiB, sha256 ${view.sha256.slice(0, 12)}…)`);
  return view;
}
