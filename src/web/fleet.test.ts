import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, fleetRows, outcome } from './fleet.ts';
import type { FleetMachine } from '../boot/next-boot.ts';

const machine: FleetMachine = {
  id: 7,
  provisionState: 'available',
  name: 'rack1-07',
  macs: ['52:54:00:00:00:07', '52:54:00:00:00:08'],
  nextProfile: 'install',
  nextOnce: true,
  lastBoot: { at: '2026-11-21T05:55:47.123Z', profile: 'rescue' },
  version: '<script>alert(1)</script> & "more"',
  powerState: 'on',
  driver: 'manual',
};

test('escapeHtml leaves no markup', () => {
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&amp;</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
});

test('a fleet row escapes what machines uploaded and says the outcome in words', () => {
  const row = fleetRows(
    [machine],
    new Map([['rack1-07', { id: 12, test: 'disk<b>', state: 'done' as const, infos: 3, warnings: 1, errors: 2, finished_at: '2026-11-21T06:00:00.000Z' }]]),
  );
  assert.ok(!row.includes('<script>') && !row.includes('<b>'), row);
  assert.match(row, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; &quot;more&quot;/);
  assert.match(row, /<td class="r-errors" data-field="result"><a href="\/runs\/12">disk&lt;b&gt;<\/a> <span class="st">errors<\/span>/);
  assert.match(row, /<span class="bad">E 2<\/span>/);
  assert.match(row, /install <span class="tag">once<\/span>/);
  assert.match(row, /rescue · 2026-11-21 05:55:47/);
  assert.match(row, /52:54:00:00:00:07 52:54:00:00:00:08/);
  // What live.js finds to update in place.
  assert.match(row, /^<tr data-machine="rack1-07"><td class="name"><a href="\/machines\/rack1-07">rack1-07<\/a><\/td>/);
  assert.match(
    row,
    /<td data-field="power">on<\/td><td data-field="provision">available<\/td><td data-field="driver">manual<\/td><td data-field="stale"><\/td><\/tr>$/,
  );
});

test('an operator’s rows have a checkbox for the bulk form; a stuck machine says so', () => {
  const stale = new Map([
    [7, [{ machineId: 7, kind: 'run-overdue' as const, since: '2026-11-21T05:00:00.000Z', message: 'run 3 (disk<x>) requested for 45 min, usually 2 min' }]],
  ]);
  const row = fleetRows([machine], new Map(), { select: true, stale });
  assert.match(row, /<td class="name"><input type="checkbox" name="machine" value="rack1-07" form="bulk" class="pick" aria-label="select rack1-07"><a /);
  assert.match(
    row,
    /<td class="stuck" data-field="stale"><span class="tag stuck" title="run 3 \(disk&lt;x&gt;\) requested for 45 min, usually 2 min">run overdue<\/span>/,
  );
  assert.doesNotMatch(fleetRows([machine], new Map(), { stale }), /checkbox/);
});

test('a machine without results shows none', () => {
  assert.match(fleetRows([{ ...machine, lastBoot: undefined }], new Map()), /<td class="none" data-field="result">none<\/td>/);
});

test('outcome words', () => {
  assert.equal(outcome({ state: 'error', errors: 0, warnings: 0 }), 'failed');
  assert.equal(outcome({ state: 'done', errors: 1, warnings: 3 }), 'errors');
  assert.equal(outcome({ state: 'done', errors: 0, warnings: 3 }), 'warnings');
  assert.equal(outcome({ state: 'done', errors: 0, warnings: 0 }), 'ok');
  assert.equal(outcome({ state: 'sent', errors: 0, warnings: 0 }), 'sent');
});
