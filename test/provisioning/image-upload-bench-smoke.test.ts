// Keeps bench/image-upload.ts from rotting: an 8 MiB file put once each way (bin/anvil image
// upload, curl -T to anvil serve, curl -T to nginx), every anvil upload checked against the
// file's sha256 by the bench, and the figures written whole.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exec, ROOT, tempDir } from '../helpers/anvil-process.ts';
import { havePeers } from '../helpers/peers.ts';

test('the image-upload bench puts one file through the CLI, the API and nginx and reports each', { timeout: 600_000 }, async (t) => {
  if (!havePeers(t, 'nginx', 'curl')) return;
  const dir = tempDir('anvil-upload-smoke-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'figures.json');
  const r = await exec(process.execPath, [join(ROOT, 'bench/image-upload.ts'), '--mib', '8', '--runs', '1', '--json', json]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const figures = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(figures.bytes, 8 * 1024 * 1024);
  assert.match(figures.sha256, /^[0-9a-f]{64}$/);
  for (const way of ['cli', 'api', 'nginx']) {
    assert.equal(figures[way].seconds.length, 1, `${way} ran once`);
    assert.ok(figures[way].bestMBps > 0, `${way}: ${JSON.stringify(figures[way])}`);
  }
  for (const way of ['cli', 'api']) assert.ok(Number.isFinite(figures.ratios[way].median) && figures.ratios[way].median > 0, JSON.stringify(figures.ratios));
  assert.match(r.stdout, /anvil api \/ nginx: [\d.]+× best/);
});
