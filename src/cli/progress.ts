// Progress of long work on a terminal (an upload, a deploy): one line redrawn in place with
// the bar, bytes, rate and time left; nothing at all when stderr is not a terminal, so
// scripts and logs stay clean.
import { bytes, duration } from '../common/format.ts';

export { bytes, duration } from '../common/format.ts';

/** One progress line: '[#####-----]  50%  128.0 MiB/256.0 MiB  32.0 MiB/s  ETA 4s'. */
export function progressLine(label: string, done: number, total: number, elapsedS: number, width = 24): string {
  const rate = elapsedS > 0 ? done / elapsedS : 0;
  if (total <= 0) return `${label}  ${bytes(done)}  ${bytes(rate)}/s`;
  const ratio = Math.min(1, done / total);
  const filled = Math.round(ratio * width);
  const eta = rate > 0 ? (total - done) / rate : Number.NaN;
  return `${label}  [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${bytes(done)}/${bytes(total)}  ${bytes(rate)}/s  ETA ${duration(eta)}`;
}

export class ProgressBar {
  readonly #label: string;
  readonly #total: number;
  readonly #out: NodeJS.WriteStream;
  readonly #started = performance.now();
  #last = 0;
  #shown = false;

  constructor(label: string, total: number, out: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#total = total;
    this.#out = out;
  }

  get enabled(): boolean {
    return this.#out.isTTY === true;
  }

  /** Redraws at most ten times a second. */
  update(done: number, total = this.#total, label = this.#label): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.#last < 100 && done < total) return;
    this.#last = now;
    this.#shown = true;
    const line = progressLine(label, done, total, (now - this.#started) / 1000);
    this.#out.write(`\r${line.slice(0, (this.#out.columns || 100) - 1)}\x1b[K`);
  }

  /** Ends the line (when one was drawn). */
  done(): void {
    if (this.#shown) this.#out.write('\n');
    this.#shown = false;
  }
}
