// The JSON-file lease store: survives a restart, refuses a corrupt file with a clear error,
// and keeps one record per MAC and per address like the in-memory store.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JOURNAL_MIN_LINES, JsonFileLeaseStore, MemoryLeaseStore } from '../../src/protocols/dhcp/index.ts';
import { lease, leaseStoreContract } from '../helpers/lease-store-contract.ts';

function tempFile(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-leases-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'leases.json');
}

test('both stores keep one record per MAC and per address', async (t) => {
  await leaseStoreContract(new MemoryLeaseStore());
  await leaseStoreContract(await JsonFileLeaseStore.open(tempFile(t)));
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

test('a change appends one journal line and leaves the snapshot alone; the next open folds the journal in', async (t) => {
  const path = tempFile(t);
  const first = await JsonFileLeaseStore.open(path);
  const snapshot = readFileSync(path, 'utf8');
  await first.put(lease('aa:00:00:00:00:01', '10.0.0.10'));
  await first.put(lease('aa:00:00:00:00:02', '10.0.0.11'));
  await first.delete('aa:00:00:00:00:01');
  // Rewriting every lease per change was what starved DHCP in a boot storm.
  assert.equal(readFileSync(path, 'utf8'), snapshot);
  assert.equal(readFileSync(`${path}.journal`, 'utf8').split('\n').length, 4);
  const second = await JsonFileLeaseStore.open(path);
  assert.deepEqual(await second.list(), [lease('aa:00:00:00:00:02', '10.0.0.11')]);
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')).leases, [lease('aa:00:00:00:00:02', '10.0.0.11')]);
  assert.equal(readFileSync(`${path}.journal`, 'utf8'), '');
});

test('a journal line cut short by a crash is not applied; a corrupt whole line is a DHCP_STORE error', async (t) => {
  const path = tempFile(t);
  const store = await JsonFileLeaseStore.open(path);
  await store.put(lease('aa:00:00:00:00:01', '10.0.0.10'));
  appendFileSync(`${path}.journal`, '{"mac":"aa:00:00:00:00:02","addr');
  assert.deepEqual(
    (await (await JsonFileLeaseStore.open(path)).list()).map((l) => l.mac),
    ['aa:00:00:00:00:01'],
  );
  writeFileSync(`${path}.journal`, '{"mac":"aa:00:00:00:00:03"}\n');
  await assert.rejects(JsonFileLeaseStore.open(path), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'DHCP_STORE');
    assert.match(err.message, /line 1 is neither a lease nor a deletion/);
    return true;
  });
});

test('the journal is folded into the snapshot before it grows past its limit', async (t) => {
  const path = tempFile(t);
  const store = await JsonFileLeaseStore.open(path);
  for (let i = 0; i < JOURNAL_MIN_LINES + 5; i++) await store.put({ ...lease('aa:00:00:00:00:01', '10.0.0.10'), expiresAt: i });
  assert.equal(readFileSync(`${path}.journal`, 'utf8').split('\n').length, 6);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).leases[0].expiresAt, JOURNAL_MIN_LINES - 1);
  assert.equal((await (await JsonFileLeaseStore.open(path)).get('aa:00:00:00:00:01'))?.expiresAt, JOURNAL_MIN_LINES + 4);
});
