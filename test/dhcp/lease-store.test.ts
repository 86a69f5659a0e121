// The JSON-file lease store: survives a restart, refuses a corrupt file with a clear error,
// and keeps one record per MAC and per address like the in-memory store.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JsonFileLeaseStore, MemoryLeaseStore, type Lease, type LeaseStore } from '../../src/protocols/dhcp/index.ts';

function tempFile(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-leases-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'leases.json');
}

const lease = (mac: string, address: string): Lease => ({ mac, address, state: 'bound', expiresAt: 1_000 });

async function contract(store: LeaseStore): Promise<void> {
  await store.put(lease('aa:00:00:00:00:01', '10.0.0.10'));
  await store.put(lease('aa:00:00:00:00:02', '10.0.0.11'));
  assert.equal((await store.byAddress('10.0.0.11'))?.mac, 'aa:00:00:00:00:02');
  // A MAC moving to another address frees its old one.
  await store.put(lease('aa:00:00:00:00:01', '10.0.0.12'));
  assert.equal(await store.byAddress('10.0.0.10'), undefined);
  // An address given to another MAC drops the old holder's record.
  await store.put(lease('aa:00:00:00:00:03', '10.0.0.11'));
  assert.equal(await store.get('aa:00:00:00:00:02'), undefined);
  await store.delete('aa:00:00:00:00:03');
  assert.equal(await store.byAddress('10.0.0.11'), undefined);
  assert.deepEqual((await store.list()).map((l) => l.mac), ['aa:00:00:00:00:01']);
}

test('both stores keep one record per MAC and per address', async (t) => {
  await contract(new MemoryLeaseStore());
  await contract(await JsonFileLeaseStore.open(tempFile(t)));
});

test('the JSON store survives a restart', async (t) => {
  const path = tempFile(t);
  const first = await JsonFileLeaseStore.open(path);
  await first.put(lease('aa:00:00:00:00:01', '10.0.0.10'));
  const second = await JsonFileLeaseStore.open(path);
  assert.deepEqual(await second.get('aa:00:00:00:00:01'), lease('aa:00:00:00:00:01', '10.0.0.10'));
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).version, 1);
});

test('a corrupt lease file is a DHCP_STORE error that says what to do', async (t) => {
  const path = tempFile(t);
  writeFileSync(path, '{not json');
  await assert.rejects(JsonFileLeaseStore.open(path), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'DHCP_STORE');
    assert.match(err.message, /move it away/);
    return true;
  });
  writeFileSync(path, JSON.stringify({ leases: [{ mac: 1 }] }));
  await assert.rejects(JsonFileLeaseStore.open(path), { code: 'DHCP_STORE' });
});
