// The database-backed DHCP lease store: the LeaseStore contract on the test backend (SQLite or
// PostgreSQL), a lease pool over it, two processes' stores racing for one address, and the
// one-time import of an old dhcp/leases.json.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JsonFileLeaseStore, LeasePool } from '../protocols/dhcp/index.ts';
import { openStore } from '../store/store.ts';
import { testDatabaseUrl, testStore } from '../../test/helpers/database.ts';
import { lease, leaseStoreContract } from '../../test/helpers/lease-store-contract.ts';
import { DatabaseLeaseStore, importLeaseFile } from './database-leases.ts';

function tempDir(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-db-leases-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the database lease store keeps one record per MAC and per address', async (t) => {
  const store = await testStore(t);
  await leaseStoreContract(new DatabaseLeaseStore(store));
});

test('a lease pool over the database binds, and a second store on the same database sees the lease', async (t) => {
  const store = await testStore(t);
  let now = 1_000_000;
  const pool = new LeasePool(new DatabaseLeaseStore(store), { start: '10.0.0.10', end: '10.0.0.11', leaseTime: 60 }, () => now);
  const offer = await pool.offer('aa:00:00:00:00:01');
  assert.equal(offer?.address, '10.0.0.10');
  const r = await pool.request({ mac: 'aa:00:00:00:00:01', serverIdIsOurs: true, requested: '10.0.0.10', ciaddr: '0.0.0.0' });
  assert.equal(r.kind, 'ack');
  const other = new DatabaseLeaseStore(store);
  assert.deepEqual(await other.byAddress('10.0.0.10'), { mac: 'aa:00:00:00:00:01', address: '10.0.0.10', state: 'bound', expiresAt: now + 60_000 });
  now += 1;
  assert.equal((await pool.offer('aa:00:00:00:00:02'))?.address, '10.0.0.11');
});

test('two processes putting the same address at once leave exactly one holder and no error', async (t) => {
  const url = await testDatabaseUrl();
  if (!url) {
    t.skip('SQLite has one writer at a time; the race is PostgreSQL’s (ANVIL_TEST_DATABASE=postgres)');
    return;
  }
  const a = await openStore({ postgresUrl: url });
  t.after(() => a.close());
  const b = await openStore({ postgresUrl: url });
  t.after(() => b.close());
  const stores = [new DatabaseLeaseStore(a), new DatabaseLeaseStore(b)];
  const macs = Array.from({ length: 20 }, (_, i) => `aa:00:00:00:01:${i.toString(16).padStart(2, '0')}`);
  await Promise.all(macs.map((mac, i) => stores[i % 2]!.put(lease(mac, '10.0.0.50'))));
  const all = await stores[0]!.list();
  assert.equal(all.length, 1);
  assert.ok(macs.includes(all[0]!.mac));
  assert.deepEqual(await stores[1]!.byAddress('10.0.0.50'), all[0]);
});

test('an old leases.json and its journal are imported once, then renamed aside', async (t) => {
  const store = await testStore(t);
  const dir = tempDir(t);
  const file = join(dir, 'leases.json');
  const json = await JsonFileLeaseStore.open(file);
  await json.put(lease('aa:00:00:00:00:01', '10.0.0.10'));
  await json.put(lease('aa:00:00:00:00:02', '10.0.0.11'));
  // The journal's change after the snapshot counts too.
  await json.put({ ...lease('aa:00:00:00:00:02', '10.0.0.11'), state: 'released' });
  const leases = new DatabaseLeaseStore(store);
  // A MAC the database already knows keeps its record.
  await leases.put(lease('aa:00:00:00:00:01', '10.0.0.20'));

  const result = await importLeaseFile(leases, file);
  assert.deepEqual(result, { imported: 1, skipped: 1, movedTo: `${file}.imported` });
  assert.equal((await leases.get('aa:00:00:00:00:02'))?.state, 'released');
  assert.equal((await leases.get('aa:00:00:00:00:01'))?.address, '10.0.0.20');
  assert.equal(existsSync(file), false);
  assert.equal(existsSync(`${file}.journal`), false);
  assert.equal(JSON.parse(readFileSync(`${file}.imported`, 'utf8')).leases.length, 2);
  assert.equal(await importLeaseFile(leases, file), undefined, 'nothing to import the second time');
});

test('a corrupt leases.json is not imported nor moved: the error says what to do', async (t) => {
  const store = await testStore(t);
  const dir = tempDir(t);
  const file = join(dir, 'leases.json');
  writeFileSync(file, '{not json');
  await assert.rejects(importLeaseFile(new DatabaseLeaseStore(store), file), { code: 'DHCP_STORE', message: /move it away/ });
  assert.equal(existsSync(file), true);
});
