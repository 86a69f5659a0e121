// The pre-capture hook (VCL's OS pre_capture): <data>/hooks/pre-capture.hook, a shell script
// templated like the test scripts ({{ system }}, {{ image }}), run on the machine over SSH
// before a capture powers it off — e.g. sync, clean logs, drop the machine's own identity.
// No file: no hook. A hook that fails fails the capture with its last words.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderTemplate } from '../common/templates.ts';
import { AnvilError } from '../common/errors.ts';
import type { Machine } from '../machines/machines.ts';
import type { SiteSsh } from './ssh.ts';

export const PRE_CAPTURE_HOOK = 'pre-capture.hook';

/** The hook runner for `dir`: resolves to what happened, for the machine's events. */
export function preCaptureHook(dir: string, ssh: SiteSsh) {
  return async (machine: Machine, image: string): Promise<string | undefined> => {
    let source: string;
    try {
      source = await readFile(join(dir, PRE_CAPTURE_HOOK), 'utf8');
    } catch {
      return undefined;
    }
    if (!ssh.target(machine)) return `skipped: machine '${machine.name}' has no address to reach it over SSH`;
    const script = await renderTemplate(source, { system: machine.name, image }, PRE_CAPTURE_HOOK);
    const result = await ssh.exec(machine, 'sh -s', { input: script });
    if (!result.connected)
      throw new AnvilError('PRE_CAPTURE_FAILED', 'unavailable', `the pre-capture hook could not reach ${machine.name} over SSH: ${result.problem}`);
    // A hook that powers the machine off ends its own session: that is success too.
    if (result.code !== 0 && result.code !== 255) {
      throw new AnvilError(
        'PRE_CAPTURE_FAILED',
        'conflict',
        `the pre-capture hook failed on ${machine.name} (exit ${result.code}): ${result.problem ?? result.stdout.trim().split('\n').pop()}`,
      );
    }
    return `ran on ${machine.name}${result.stdout.trim() ? `: ${result.stdout.trim().split('\n').pop()?.slice(0, 200)}` : ''}`;
  };
}
