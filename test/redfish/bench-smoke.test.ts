// Keeps bench/redfish-power-status.ts from rotting: five emulated BMCs in one `anvil bmc redfish
// --count 5` process, polled by anvil's client with session reuse, with a new session per poll
// and with Basic, and by redfishtool on a sample of two; every BMC answered "Off" every time.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exec, ROOT, tempDir } from '../helpers/anvil-process.ts';
import { havePeers } from '../helpers/peers.ts';

const COUNT = 5;
const SAMPLE = 2;

test('the Redfish power-status bench polls five BMCs every way with every one answering', { timeout: 600_000 }, async (t) => {
  if (!havePeers(t, 'openssl', 'redfishtool', 'python3')) return;
  const dir = tempDir('anvil-redfish-bench-smoke-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'figures.json');
  let r: Awaited<ReturnType<typeof exec>> | undefined;
  // A random range below the ephemeral ports; another try if something holds it.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 21_000 + Math.floor(Math.random() * 10_000);
    const args = ['--count', String(COUNT), '--runs', '1', '--sample', String(SAMPLE), '--fanout', '3', '--port', String(port), '--json', json];
    r = await exec(process.execPath, [join(ROOT, 'bench/redfish-power-status.ts'), ...args]);
    if (r.code === 0 || !/in use/.test(r.stderr)) break;
  }
  assert.ok(r);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const figures = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(figures.count, COUNT);
  for (const mode of ['reuse', 'session', 'basic']) {
    const { warm, runs, summary } = figures.anvil[mode];
    for (const run of [warm, ...runs]) {
      assert.equal(run.ok, COUNT, `${mode}: every BMC answered Off (${JSON.stringify(run.errors)})`);
      assert.deepEqual(run.errors, {}, mode);
    }
    assert.ok(summary && summary.best > 0, `${mode} has a complete run`);
  }
  // Without reuse every poll is a new TLS connection; the reusing client connected in its first
  // pass only (the emulator keeps idle connections for the bench's --keep-alive, 300 s).
  assert.equal(figures.anvil.session.runs[0].connections, COUNT);
  assert.equal(figures.anvil.reuse.warm.connections, COUNT);
  assert.equal(figures.anvil.reuse.runs[0].connections, 0);
  assert.equal(figures.redfishtool.run.ok, SAMPLE, JSON.stringify(figures.redfishtool.run.errors));
  assert.match(r.stdout, /redfishtool TLS +not verified/);
  assert.match(r.stdout, /ratio +new session \/ session reuse = /);
});
