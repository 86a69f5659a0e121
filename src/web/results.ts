// The /results page's chart: the geometry of the bars (the view only draws what is computed
// here; every label is escaped by the view).
import type { Bucket } from '../testing/results-over-time.ts';

/** maxBar: a window of a few buckets gets bars this wide at most, not slabs. */
export const CHART = { width: 720, height: 220, left: 40, bottom: 40, top: 10, maxBar: 60 } as const;

export interface ChartBar {
  readonly x: number;
  readonly y: number;
  readonly height: number;
  readonly kind: 'clean' | 'errors' | 'failed';
  readonly title: string;
}

export interface Chart {
  readonly width: number;
  readonly height: number;
  readonly barWidth: number;
  readonly max: number;
  readonly total: number;
  readonly bars: ChartBar[];
  readonly ticks: Array<{ x: number; label: string }>;
  readonly axis: { x1: number; x2: number; y: number; top: number };
}

/** A stacked bar per bucket: clean runs at the bottom, runs with E: lines, failed runs on top. */
export function chartOf(buckets: readonly Bucket[]): Chart {
  const plotHeight = CHART.height - CHART.bottom - CHART.top;
  const step = (CHART.width - CHART.left) / Math.max(1, buckets.length);
  const barWidth = Math.min(CHART.maxBar, Math.max(2, Math.floor(step * 0.7)));
  const max = Math.max(1, ...buckets.map((b) => b.clean + b.withErrors + b.failed));
  const bars: ChartBar[] = [];
  const ticks: Chart['ticks'] = [];
  const every = Math.ceil(buckets.length / 7);
  buckets.forEach((b, i) => {
    const x = Math.round(CHART.left + i * step + (step - barWidth) / 2);
    let base = CHART.height - CHART.bottom;
    const parts = [
      ['clean', b.clean, `${b.label}: ${b.clean} run${b.clean === 1 ? '' : 's'} without errors`],
      [
        'errors',
        b.withErrors,
        `${b.label}: ${b.withErrors} run${b.withErrors === 1 ? '' : 's'} with errors (${b.errorLines} E: line${b.errorLines === 1 ? '' : 's'})`,
      ],
      ['failed', b.failed, `${b.label}: ${b.failed} failed run${b.failed === 1 ? '' : 's'} (no result)`],
    ] as const;
    for (const [kind, count, title] of parts) {
      if (count === 0) continue;
      const height = Math.max(1, Math.round((count / max) * plotHeight));
      base -= height;
      bars.push({ x, y: base, height, kind, title });
    }
    if (i % every === 0) ticks.push({ x: x + barWidth / 2, label: b.tick });
  });
  const total = buckets.reduce((n, b) => n + b.clean + b.withErrors + b.failed, 0);
  return {
    width: CHART.width,
    height: CHART.height,
    barWidth,
    max,
    total,
    bars,
    ticks,
    axis: { x1: CHART.left, x2: CHART.width, y: CHART.height - CHART.bottom, top: CHART.top },
  };
}
