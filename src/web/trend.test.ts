import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrendRun } from '../testing/testing.ts';
import { TREND, trendOf, versionColours, VERSION_COLOURS } from './trend.ts';
import { versionChartOf } from './version-chart.ts';

const run = (id: number, minute: number, errors: number, warnings: number, version: string | null, state: 'done' | 'error' = 'done'): TrendRun => ({
  id,
  state,
  finished_at: new Date(Date.UTC(2026, 10, 1, 8, minute)).toISOString(),
  infos: 0,
  warnings,
  errors,
  version,
});

test('a trend has one point per run, placed by time and count, coloured by version', () => {
  const trend = trendOf('hello', [run(1, 0, 0, 2, 'os 1'), run(2, 10, 4, 0, 'os 1'), run(3, 40, 2, 1, 'os 2'), run(4, 60, 0, 0, null, 'error')])!;
  assert.deepEqual(
    trend.points.map((p) => p.run),
    [1, 2, 3, 4],
  );
  assert.equal(trend.max, 4);
  const [a, b, c, d] = trend.points as [(typeof trend.points)[0], (typeof trend.points)[0], (typeof trend.points)[0], (typeof trend.points)[0]];
  assert.equal(a.x, TREND.left);
  assert.equal(d.x, TREND.width - TREND.right);
  // Time, not index: run 3 is two thirds of the way along.
  assert.ok(Math.abs(c.x - (TREND.left + ((TREND.width - TREND.right - TREND.left) * 40) / 60)) < 0.1);
  assert.ok(b.ye < c.ye && c.ye < a.ye, 'more E: lines stand higher');
  assert.equal(a.ye, TREND.height - TREND.bottom);
  assert.equal(b.ye, TREND.top);
  assert.deepEqual(
    trend.points.map((p) => p.colour),
    ['v0', 'v0', 'v1', 'vnone'],
  );
  assert.ok(d.failed && !a.failed);
  assert.equal(b.title, 'run 2 (hello), 2026-11-01 08:10:00, os 1: 4 E: lines, 0 W: lines');
  assert.match(d.title, /no version: failed \(no result\)$/);
  assert.deepEqual(trend.versions, [
    { version: 'os 1', colour: 'v0', runs: 2 },
    { version: 'os 2', colour: 'v1', runs: 1 },
    { version: 'no version', colour: 'vnone', runs: 1 },
  ]);
  assert.equal(trend.errorsLine.split(' ').length, 4);
  assert.equal(trendOf('hello', []), undefined);
  // One run: in the middle, not at an edge.
  assert.equal(trendOf('hello', [run(1, 0, 1, 1, 'x')])!.points[0]!.x, (TREND.left + TREND.width - TREND.right) / 2);
});

test('version colours go round the palette in the order versions came', () => {
  const names = Array.from({ length: VERSION_COLOURS + 1 }, (_, i) => `v-${i}`);
  const colours = versionColours(['', ...names, 'v-0']);
  assert.equal(colours.get(''), 'vnone');
  assert.equal(colours.get('v-0'), 'v0');
  assert.equal(colours.get(`v-${VERSION_COLOURS}`), 'v0');
});

test('the versions timeline has a row per machine and a bar per version, from first to last seen', () => {
  const chart = versionChartOf([
    {
      machine: 'n1',
      versions: [
        { version: 'os 1', first_seen: '2026-11-01T00:00:00.000Z', last_seen: '2026-11-05T00:00:00.000Z' },
        { version: 'os 2', first_seen: '2026-11-05T00:00:00.000Z', last_seen: '2026-11-11T00:00:00.000Z' },
      ],
    },
    { machine: 'n2', versions: [{ version: 'os 2', first_seen: '2026-11-11T00:00:00.000Z', last_seen: '2026-11-11T00:00:00.000Z' }] },
  ])!;
  assert.deepEqual(
    chart.rows.map((r) => [r.machine, r.bars.map((b) => `${b.version}:${b.colour}`)]),
    [
      ['n1', ['os 1:v0', 'os 2:v1']],
      ['n2', ['os 2:v1']],
    ],
  );
  const [one, two] = chart.rows[0]!.bars as [NonNullable<typeof chart>['rows'][0]['bars'][0], NonNullable<typeof chart>['rows'][0]['bars'][0]];
  assert.equal(one.x, chart.axis.x1);
  assert.ok(Math.abs(two.x + two.width - chart.axis.x2) <= 1);
  assert.ok(two.width > one.width, 'six days are longer than four');
  // Seen once, at the very end: a thin bar that still fits on the axis.
  const seenOnce = chart.rows[1]!.bars[0]!;
  assert.ok(seenOnce.width >= 4 && seenOnce.x + seenOnce.width <= chart.axis.x2);
  assert.deepEqual(
    chart.rows[0]!.list.map((v) => v.version),
    ['os 2', 'os 1'],
  );
  assert.equal(versionChartOf([]), undefined);
});
