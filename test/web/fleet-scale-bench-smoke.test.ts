// Keeps bench/fleet-scale.ts from rotting: 100 machines behind 100 emulated BMCs, power sync
// every 2 s, on SQLite and PostgreSQL, then three conductors; every part reports a figure and
// power sync read every BMC. No timing is asserted: only that each part measured something.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exec, ROOT, tempDir } from '../helpers/anvil-process.ts';
import { havePostgres } from '../helpers/postgres.ts';

const MACHINES = 100;

test('the fleet-scale bench runs every part at 100 machines on both backends and reports each', { timeout: 600_000 }, async (t) => {
  if (!havePostgres(t)) return;
  const dir = tempDir('anvil-scale-smoke-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'figures.json');
  // A range of its own below the ephemeral ports, so benches and tests in parallel rarely meet.
  const port = 24_000 + Math.floor(Math.random() * 80) * 100;
  const args = ['--machines', String(MACHINES), '--interval', '2', '--passes', '1', '--loads', '2', '--rps-seconds', '1', '--connections', '4'];
  const r = await exec(process.execPath, [join(ROOT, 'bench/fleet-scale.ts'), ...args, '--sweep-interval', '4', '--port', String(port), '--json', json]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const figures = JSON.parse(readFileSync(json, 'utf8'));
  assert.deepEqual(
    figures.backends.map((b: { backend: string }) => b.backend),
    ['sqlite', 'postgres'],
  );
  for (const b of figures.backends) {
    assert.equal(b.sync.off, MACHINES, `${b.backend}: power sync read every BMC`);
    assert.ok(b.sync.cpuS >= 0 && b.sync.windowS > 0, JSON.stringify(b.sync));
    assert.ok(b.pages.length >= 14 && b.pages.every((p: { p50?: number }) => p.p50! > 0), `${b.backend}: ${JSON.stringify(b.pages)}`);
    for (const route of b.rps) assert.ok(route.ok > 0 && route.errors === 0, `${b.backend}: ${JSON.stringify(route)}`);
  }
  const postgres = figures.backends[1];
  assert.ok(
    postgres.pages.some((p: { label: string }) => p.label.startsWith('owner=')),
    'the owner filter was timed on PostgreSQL',
  );
  assert.ok(
    postgres.pages.some((p: { label: string }) => p.label.includes('WITHOUT index 011')),
    'the boot sort without its index too',
  );
  assert.equal(figures.sweep.conductors.length, 3);
  assert.equal(
    figures.sweep.conductors.reduce((n: number, c: { machines: number }) => n + c.machines, 0),
    MACHINES,
  );
  assert.ok(figures.sweep.sweepS > 0);
  assert.match(r.stdout, /\(a\) power sync every 2 s/);
  assert.match(r.stdout, /\(d\) a power-status sweep of all 100 machines/);
});
