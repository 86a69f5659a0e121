// The deploy agent's kernel and initrd (built by scripts/anvil-agent into .tools/anvil-agent/),
// put into the TFTP root under anvil-agent/ so machines fetch them like any boot file: over
// HTTP from iPXE, over TFTP from pxelinux. Copied again only when the build changed.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnvilError } from '../common/errors.ts';
import { sweepTempFiles, type Leftover } from '../common/leftovers.ts';

/** Where scripts/anvil-agent builds the agent. */
export const DEFAULT_AGENT_BUILD = fileURLToPath(new URL('../../.tools/anvil-agent/', import.meta.url));
/** The agent's folder in the TFTP root. */
export const AGENT_TFTP_DIR = 'anvil-agent';

export interface AgentFiles {
  /** Paths relative to the TFTP root. */
  readonly kernel: string;
  readonly initrd: string;
}

const FILES = { kernel: 'vmlinuz', initrd: 'initrd.gz' } as const;

/** The copy being staged: `<file>.<pid>.<random>.tmp`; the pid of its writer, or undefined for other names. */
const STAGING = /\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** Removes staging copies (agent kernels and initrds, tens of MB) a crashed process left in the TFTP root. */
export function sweepAgentStaging(tftpRoot: string): Promise<Leftover[]> {
  return sweepTempFiles(join(tftpRoot, AGENT_TFTP_DIR), (name) => {
    const m = STAGING.exec(name);
    return m ? Number(m[1]) : undefined;
  });
}

async function copyIfChanged(from: string, to: string): Promise<void> {
  const source = await stat(from);
  const target = await stat(to).catch(() => undefined);
  if (target && target.size === source.size && target.mtimeMs >= source.mtimeMs) return;
  // A temp name of its own: several processes (three `anvil machine deploy` at once) may stage
  // the agent together, and one's rename must not take another's temp file away.
  const temp = `${to}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await copyFile(from, temp);
  await rename(temp, to);
}

/** Puts the agent into the TFTP root; a clear error when it has not been built. */
export async function stageAgent(build: string, tftpRoot: string): Promise<AgentFiles> {
  const dir = join(tftpRoot, AGENT_TFTP_DIR);
  try {
    await stat(join(build, FILES.kernel));
    await stat(join(build, FILES.initrd));
  } catch {
    throw new AnvilError('AGENT_NOT_BUILT', 'unavailable', `the deploy agent is not built in ${build}: run scripts/anvil-agent (scripts/install does)`);
  }
  await mkdir(dir, { recursive: true });
  await copyIfChanged(join(build, FILES.kernel), join(dir, FILES.kernel));
  await copyIfChanged(join(build, FILES.initrd), join(dir, FILES.initrd));
  return { kernel: `${AGENT_TFTP_DIR}/${FILES.kernel}`, initrd: `${AGENT_TFTP_DIR}/${FILES.initrd}` };
}
