// Small helpers for readable CLI output: aligned tables, local timestamps, and stdout written at once.
import { writeSync } from 'node:fs';

/** Left-aligned columns, separated by two spaces; the header row first. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** '2026-11-21 06:30:12' from an ISO timestamp (UTC, as stored). */
export function when(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Set once writeStdout has handed text to process.stdout: what follows goes the same way, in order. */
let throughStream = false;

/**
 * Writes text to stdout now, through its file descriptor. process.stdout is made at its first
 * use, and for a pipe that is ~2 ms of a command's start (its stream and handle), a tenth of a
 * one-BMC `anvil ipmi ... power status`. A descriptor that would block (a full pipe someone made
 * non-blocking) gets the rest through process.stdout, which waits; a reader that went away
 * (EPIPE, `anvil ... | head -1`) ends the output quietly, as a closed pipe ends ipmitool's.
 */
export function writeStdout(text: string): void {
  if (throughStream) {
    process.stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text);
  let at = 0;
  try {
    while (at < bytes.length) at += writeSync(1, bytes, at);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') return;
    if (code !== 'EAGAIN') throw error;
    throughStream = true;
    process.stdout.write(bytes.subarray(at));
  }
}
