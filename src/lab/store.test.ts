// The lab's VM store: files, their mode, conflicts between VMs, and what delete removes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { LabStore } from './store.ts';

async function store(t: TestContext): Promise<LabStore> {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-lab-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return new LabStore(dir);
}

const bmc = (port: number, kind: 'ipmi' | 'amt' | 'both' = 'ipmi') => ({
  kind,
  address: '127.0.0.1',
  ipmiPort: port,
  amtPort: port,
  user: 'admin',
  password: 'pw',
});
const code = (expected: string) => (e: unknown) => (e as { code?: string }).code === expected;

test('a created VM is saved owner-only, loads back, lists, and its paths live under DATA/lab', async (t) => {
  const s = await store(t);
  const def = await s.create({ name: 'vm1', mac: '52:54:00:00:00:01', bmc: bmc(6230) });
  assert.equal((await stat(join(s.vmsDir, 'vm1.json'))).mode & 0o777, 0o600);
  assert.deepEqual(await s.load('vm1'), def);
  assert.deepEqual(
    (await s.list()).map((d) => d.name),
    ['vm1'],
  );
  assert.equal(def.qmpSocket, join(s.runDir('vm1'), 'qmp.sock'));
  assert.equal(def.disk?.path, join(s.disksDir, 'vm1.qcow2'));
  assert.equal(def.disk?.size, '8G');
  await assert.rejects(s.load('nope'), code('LAB_NOT_FOUND'));
});

test('names, MACs and controller endpoints are unique in a lab; port 0 never conflicts', async (t) => {
  const s = await store(t);
  await s.create({ name: 'vm1', mac: '52:54:00:00:00:01', bmc: bmc(6230) });
  await assert.rejects(s.create({ name: 'vm1', mac: '52:54:00:00:00:02' }), code('LAB_EXISTS'));
  await assert.rejects(s.create({ name: 'vm2', mac: '52:54:00:00:00:01' }), code('LAB_EXISTS'));
  await assert.rejects(s.create({ name: 'vm2', mac: '52:54:00:00:00:02', bmc: bmc(6230, 'both') }), code('LAB_EXISTS'));
  // The same number as a TCP (AMT) port does not clash with a UDP (IPMI) one.
  await s.create({ name: 'vm2', mac: '52:54:00:00:00:02', bmc: bmc(6230, 'amt') });
  await s.create({ name: 'vm3', mac: '52:54:00:00:00:03', bmc: bmc(0) });
  await s.create({ name: 'vm4', mac: '52:54:00:00:00:04', bmc: bmc(0) });
});

test("delete removes the definition, the run directory and the lab's own disk, never a disk elsewhere", async (t) => {
  const s = await store(t);
  const own = await s.create({ name: 'vm1', mac: '52:54:00:00:00:01', diskSize: '1M' });
  await mkdir(s.disksDir, { recursive: true });
  await writeFile(own.disk!.path, '');
  await mkdir(s.runDir('vm1'), { recursive: true });
  await s.delete('vm1');
  assert.equal(existsSync(own.disk!.path), false);
  assert.equal(existsSync(s.runDir('vm1')), false);
  assert.equal(await s.exists('vm1'), false);

  const elsewhere = join(s.root, '..', 'precious.img');
  await writeFile(elsewhere, 'data');
  const def = await s.create({ name: 'vm2', mac: '52:54:00:00:00:02' });
  await s.save({ ...def, disk: { path: elsewhere, size: '1M', format: 'raw' } });
  await s.delete('vm2');
  assert.equal(existsSync(elsewhere), true);
});
