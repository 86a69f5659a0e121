// The /results page's chart and the machine page's spark line: the geometry of the bars (the
// view only draws what is computed here; every label is escaped by the view).
import type { Bucket } from '../testing/results-over-time.ts';

export const CHART = { width: 720, height: 220, left: 40, bottom: 40, top: 10 } as const;

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
  const barWidth = Math.max(2, Math.floor(step * 0.7));
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
    // "11-21" or "11-21 05:00": the year is in the table below.
    if (i % every === 0) ticks.push({ x: x + barWidth / 2, label: b.label.slice(5) });
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

export const SPARK = { width: 240, height: 36, runs: 30 } as const;

export interface Spark {
  readonly width: number;
  readonly height: number;
  readonly max: number;
  readonly bars: Array<{ x: number; y: number; width: number; height: number; kind: 'clean' | 'errors' | 'failed'; title: string }>;
}

/** A machine's last finished runs, oldest first, as bars as tall as their E: counts. */
export function sparkOf(runs: ReadonlyArray<{ id: number; test: string; state: string; errors: number; finished_at: string | null }>): Spark | undefined {
  const finished = runs
    .filter((r) => r.state === 'done' || r.state === 'error')
    .slice(0, SPARK.runs)
    .reverse();
  if (finished.length === 0) return undefined;
  const max = Math.max(1, ...finished.map((r) => r.errors));
  const step = SPARK.width / SPARK.runs;
  const bars = finished.map((r, i) => {
    const kind = r.state === 'error' ? ('failed' as const) : r.errors > 0 ? ('errors' as const) : ('clean' as const);
    // A clean run is a short green tick, so "no errors" is visible rather than missing.
    const height = kind === 'failed' ? SPARK.height : kind === 'clean' ? 3 : Math.max(4, Math.round((r.errors / max) * SPARK.height));
    const what = kind === 'failed' ? 'failed (no result)' : `${r.errors} E: line${r.errors === 1 ? '' : 's'}`;
    return {
      x: Math.round(i * step),
      y: SPARK.height - height,
      width: Math.max(2, Math.floor(step) - 2),
      height,
      kind,
      title: `run ${r.id} (${r.test}): ${what}`,
    };
  });
  return { width: SPARK.width, height: SPARK.height, max, bars };
}
