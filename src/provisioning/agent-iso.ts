// The deploy agent as a bootable ISO, for machines whose BMC boots it as virtual media (Ironic's
// redfish-virtual-media): ISOLINUX (Debian's isolinux and syslinux-common) loads the agent's
// kernel and initrd with the agent's command line, so nothing about the boot comes from the
// network. The command line carries the deployment's token: it is written into isolinux.cfg
// (never on xorriso's command line), the ISO is its owner's only, one per deployment, and
// removed when the deployment ends.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AnvilError } from '../common/errors.ts';

const run = promisify(execFile);
/** Where Debian puts ISOLINUX's boot sector and its core module. */
export const ISOLINUX_FILES = { bin: '/usr/lib/ISOLINUX/isolinux.bin', ldlinux: '/usr/lib/syslinux/modules/bios/ldlinux.c32' } as const;
const XORRISO_TIMEOUT_MS = 120_000;

export interface AgentIsoInput {
  /** The agent's kernel and initrd (absolute paths). */
  readonly kernel: string;
  readonly initrd: string;
  /** The kernel command line: the agent's arguments, the token among them. */
  readonly cmdline: string;
}

function missing(what: string): AnvilError {
  return new AnvilError(
    'AGENT_ISO',
    'unavailable',
    `cannot build the agent's virtual-media ISO: ${what}; install Debian's xorriso and isolinux (scripts/install does)`,
  );
}

/** Builds the ISO at `out` (written beside it, then renamed into place), mode 0600. */
export async function buildAgentIso(out: string, input: AgentIsoInput): Promise<void> {
  for (const file of [ISOLINUX_FILES.bin, ISOLINUX_FILES.ldlinux]) await stat(file).catch(() => Promise.reject(missing(`${file} is missing`)));
  if (/[\r\n]/.test(input.cmdline)) throw new AnvilError('AGENT_ISO', 'invalid', 'the agent command line must be one line');
  const dir = await mkdtemp(`${out}.tree-`);
  try {
    await mkdir(join(dir, 'isolinux'), { mode: 0o700 });
    await copyFile(ISOLINUX_FILES.bin, join(dir, 'isolinux', 'isolinux.bin'));
    await copyFile(ISOLINUX_FILES.ldlinux, join(dir, 'isolinux', 'ldlinux.c32'));
    await copyFile(input.kernel, join(dir, 'vmlinuz'));
    await copyFile(input.initrd, join(dir, 'initrd.gz'));
    await writeFile(
      join(dir, 'isolinux', 'isolinux.cfg'),
      `DEFAULT agent\nPROMPT 0\nTIMEOUT 0\nLABEL agent\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd.gz ${input.cmdline}\n`,
      { mode: 0o600 },
    );
    const part = `${out}.part`;
    // Made 0600 before xorriso writes into it: the token is never readable by others, not even for a moment.
    await writeFile(part, '', { mode: 0o600 });
    try {
      // prettier-ignore
      await run(
        'xorriso',
        [
          '-as',
          'mkisofs',
          '-quiet',
          '-o',
          part,
          '-V',
          'ANVIL_AGENT',
          '-J',
          '-R',
          '-b',
          'isolinux/isolinux.bin',
          '-c',
          'isolinux/boot.cat',
          '-no-emul-boot',
          '-boot-load-size',
          '4',
          '-boot-info-table',
          dir,
        ],
        { timeout: XORRISO_TIMEOUT_MS },
      );
    } catch (error) {
      await rm(part, { force: true });
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missing('xorriso is not installed');
      throw new AnvilError(
        'AGENT_ISO',
        'internal',
        `xorriso could not build the agent ISO: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}`,
      );
    }
    await rename(part, out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
