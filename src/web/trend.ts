// A test's trend on the machine page: E: and W: lines of each finished run over time, one point
// per run, coloured by the version the run reported. Only geometry is computed here; the view
// draws it as an SVG and escapes every label.
import type { TrendRun } from '../testing/testing.ts';
import { utc } from './views.ts';

export const TREND = { width: 720, height: 200, left: 40, right: 12, top: 12, bottom: 34 } as const;
/** Colours the view has for versions (anvil.css .v0 … .v7); more versions reuse them in turn. */
export const VERSION_COLOURS = 8;

export interface TrendPoint {
  readonly run: number;
  readonly x: number;
  /** Where its E: count and its W: count are drawn. */
  readonly ye: number;
  readonly yw: number;
  readonly colour: string;
  readonly failed: boolean;
  readonly title: string;
}

export interface Trend {
  readonly width: number;
  readonly height: number;
  readonly max: number;
  readonly points: TrendPoint[];
  readonly errorsLine: string;
  readonly warningsLine: string;
  readonly versions: Array<{ version: string; colour: string; runs: number }>;
  readonly ticks: Array<{ x: number; label: string }>;
  readonly axis: { x1: number; x2: number; y: number; top: number };
}

/** The colour class of each version in the order given ('' stands for runs that reported none). */
export function versionColours(versions: Iterable<string>): Map<string, string> {
  const colours = new Map<string, string>();
  let next = 0;
  for (const v of versions) {
    if (colours.has(v)) continue;
    colours.set(v, v === '' ? 'vnone' : `v${next++ % VERSION_COLOURS}`);
  }
  return colours;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The trend of runs given oldest first; undefined without runs. x is time, so bursts stay bursts. */
export function trendOf(test: string, runs: readonly TrendRun[]): Trend | undefined {
  if (runs.length === 0) return undefined;
  const times = runs.map((r) => Date.parse(r.finished_at));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const x1 = TREND.left;
  const x2 = TREND.width - TREND.right;
  const base = TREND.height - TREND.bottom;
  const max = Math.max(1, ...runs.map((r) => Math.max(r.errors, r.warnings)));
  const xOf = (t: number) => (t1 === t0 ? (x1 + x2) / 2 : x1 + ((t - t0) / (t1 - t0)) * (x2 - x1));
  const yOf = (n: number) => base - (n / max) * (base - TREND.top);
  const round = (n: number) => Math.round(n * 10) / 10;
  const colours = versionColours(runs.map((r) => r.version ?? ''));
  const points = runs.map((r, i) => {
    const version = r.version ?? '';
    const failed = r.state === 'error';
    const what = failed ? 'failed (no result)' : `${plural(r.errors, 'E: line')}, ${plural(r.warnings, 'W: line')}`;
    return {
      run: r.id,
      x: round(xOf(times[i]!)),
      ye: round(yOf(r.errors)),
      yw: round(yOf(r.warnings)),
      colour: colours.get(version)!,
      failed,
      title: `run ${r.id} (${test}), ${utc(r.finished_at)}, ${version || 'no version'}: ${what}`,
    };
  });
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.version ?? '', (counts.get(r.version ?? '') ?? 0) + 1);
  const ticks: Trend['ticks'] = [{ x: x1, label: utc(runs[0]!.finished_at).slice(0, 16) }];
  if (t1 !== t0) ticks.push({ x: x2, label: utc(runs.at(-1)!.finished_at).slice(0, 16) });
  return {
    width: TREND.width,
    height: TREND.height,
    max,
    points,
    errorsLine: points.map((p) => `${p.x},${p.ye}`).join(' '),
    warningsLine: points.map((p) => `${p.x},${p.yw}`).join(' '),
    versions: [...colours].map(([version, colour]) => ({ version: version || 'no version', colour, runs: counts.get(version)! })),
    ticks,
    axis: { x1, x2, y: base, top: TREND.top },
  };
}
