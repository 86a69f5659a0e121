// The versions page's timeline: a row per machine, a bar per version from when the machine first
// reported it to when it last did, on one time axis for the page. Geometry only; the view draws
// the SVG and escapes the labels.
import type { MachineVersions } from '../testing/testing.ts';
import { versionColours } from './trend.ts';
import { utc } from './views.ts';

export const VERSION_CHART = { width: 900, left: 150, right: 12, top: 8, row: 24, bar: 16, bottom: 26 } as const;
/** Below this width a bar has no room for its version's name (the title still has it). */
const LABEL_CHAR_PX = 7;

export interface VersionBar {
  readonly x: number;
  readonly width: number;
  readonly colour: string;
  readonly version: string;
  /** The name written in the bar when it fits, else ''. */
  readonly label: string;
  readonly title: string;
}

export interface VersionRow {
  readonly machine: string;
  readonly y: number;
  readonly bars: VersionBar[];
  readonly list: Array<{ version: string; first: string; last: string; colour: string }>;
}

export interface VersionChart {
  readonly width: number;
  readonly height: number;
  readonly rows: VersionRow[];
  readonly ticks: Array<{ x: number; label: string }>;
  readonly axis: { x1: number; x2: number; y: number };
}

/** Undefined when no machine on the page reported a version. */
export function versionChartOf(machines: readonly MachineVersions[]): VersionChart | undefined {
  const all = machines.flatMap((m) => m.versions);
  if (all.length === 0) return undefined;
  const t0 = Math.min(...all.map((v) => Date.parse(v.first_seen)));
  const t1 = Math.max(...all.map((v) => Date.parse(v.last_seen)));
  const x1 = VERSION_CHART.left;
  const x2 = VERSION_CHART.width - VERSION_CHART.right;
  const xOf = (t: number) => (t1 === t0 ? x1 : x1 + ((t - t0) / (t1 - t0)) * (x2 - x1));
  // Colours in the order versions first appeared anywhere on the page, so one version is one colour.
  const colours = versionColours([...all].sort((a, b) => a.first_seen.localeCompare(b.first_seen)).map((v) => v.version));
  const rows = machines.map((m, i) => {
    const y = VERSION_CHART.top + i * VERSION_CHART.row;
    const bars = m.versions.map((v) => {
      const x = Math.round(xOf(Date.parse(v.first_seen)));
      // A version seen once is a thin bar, not nothing.
      const width = Math.max(4, Math.round(xOf(Date.parse(v.last_seen))) - x);
      return {
        x: Math.min(x, x2 - width),
        width,
        colour: colours.get(v.version)!,
        version: v.version,
        label: v.version.length * LABEL_CHAR_PX + 8 <= width ? v.version : '',
        title: `${m.machine}: ${v.version}, first seen ${utc(v.first_seen)}, last seen ${utc(v.last_seen)}`,
      };
    });
    const list = [...m.versions]
      .reverse()
      .map((v) => ({ version: v.version, first: utc(v.first_seen), last: utc(v.last_seen), colour: colours.get(v.version)! }));
    return { machine: m.machine, y, bars, list };
  });
  const axisY = VERSION_CHART.top + machines.length * VERSION_CHART.row;
  const ticks: VersionChart['ticks'] = [{ x: x1, label: utc(new Date(t0).toISOString()).slice(0, 16) }];
  if (t1 !== t0) ticks.push({ x: x2, label: utc(new Date(t1).toISOString()).slice(0, 16) });
  return { width: VERSION_CHART.width, height: axisY + VERSION_CHART.bottom, rows, ticks, axis: { x1, x2, y: axisY } };
}
