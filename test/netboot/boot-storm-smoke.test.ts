// Keeps bench/boot-storm.ts from rotting: five machines and 1 MiB of artifacts through the
// whole storm (anvil in its namespace, the machines in theirs, nginx beside anvil), every
// step done by every machine, the artifacts then fetched alone from anvil and from nginx.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exec, ROOT, tempDir } from '../helpers/anvil-process.ts';
import { isRoot } from '../helpers/netns.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { STEPS } from '../../bench/lib/pxe-client.ts';

const CLIENTS = 5;

test('the boot-storm bench boots five machines through every step with zero errors', async (t) => {
  if (!requireCondition(t, isRoot(), 'root (the bench builds network namespaces)') || !havePeers(t, 'nginx', 'ip')) return;
  if (!requireCondition(t, existsSync('/usr/lib/ipxe/undionly.kpxe'), "Debian's ipxe (/usr/lib/ipxe/undionly.kpxe)")) return;
  const dir = tempDir('anvil-storm-smoke-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'figures.json');
  const r = await exec(process.execPath, [
    join(ROOT, 'bench/boot-storm.ts'),
    '--clients',
    String(CLIENTS),
    '--artifact-mib',
    '1',
    '--verify-every',
    '1',
    '--json',
    json,
  ]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const figures = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(figures.booted, CLIENTS);
  assert.equal(figures.errors, 0);
  for (const step of [...STEPS, 'total']) {
    assert.equal(figures.steps[step].done, CLIENTS, `${step} done by every machine`);
    assert.equal(figures.steps[step].errors, 0, `${step} without errors`);
  }
  // anvil saw the boots: two DHCP exchanges per machine (the ROM's, iPXE's), one loader, one script.
  assert.deepEqual(figures.anvil.logged, { 'dhcp reply': 4 * CLIENTS, 'tftp transfer': CLIENTS, 'boot served': CLIENTS, 'warn+': 0 });
  assert.equal(figures.stormArtifacts.bytes, CLIENTS * figures.artifactBytes);
  for (const server of ['anvil', 'nginx']) {
    assert.equal(figures.load[server].result.errors, 0, `${server}: ${figures.load[server].result.samples}`);
    assert.equal(figures.load[server].result.bytes, CLIENTS * figures.artifactBytes);
  }
  // Nothing left behind: the bench's namespaces are gone.
  const namespaces = (await exec('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]);
  assert.equal(figures.namespaces.length, 2);
  for (const ns of figures.namespaces) assert.ok(!namespaces.includes(ns), `${ns} was deleted`);
});
