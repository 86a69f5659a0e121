// Real peers for interop tests (ipmitool, FreeIPMI, QEMU, Chromium, ...).
// Locally a missing peer skips its test with a message; under CI=true it fails,
// so CI can never go green by skipping.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

export const inCI = process.env.CI === 'true';

/** The absolute path of an executable on PATH (or an absolute path that exists), or undefined. */
export function which(command: string): string | undefined {
  const candidates = command.includes('/') ? [command] : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Returns true when every named peer is installed. Otherwise skips the test
 * (locally) or throws (under CI=true), naming the missing peers and how to install them.
 */
export function havePeers(t: TestContext, ...commands: string[]): boolean {
  const missing = commands.filter((c) => which(c) === undefined);
  if (missing.length === 0) return true;
  const message = `missing peer(s): ${missing.join(', ')}; install them with scripts/install --test`;
  if (inCI) throw new Error(message);
  t.skip(message);
  return false;
}

/** Like havePeers, for a condition that is not a command (root privileges, a file, a kernel feature). */
export function requireCondition(t: TestContext, ok: boolean, what: string): boolean {
  if (ok) return true;
  const message = `${what}; install it with scripts/install --test`;
  if (inCI) throw new Error(message);
  t.skip(message);
  return false;
}
