// What every DHCP LeaseStore keeps true (memory, JSON file, anvil's database): one record per
// MAC and per address. One contract, run against each store.
import assert from 'node:assert/strict';
import type { Lease, LeaseStore } from '../../src/protocols/dhcp/index.ts';

export const lease = (mac: string, address: string): Lease => ({ mac, address, state: 'bound', expiresAt: 1_000 });

export async function leaseStoreContract(store: LeaseStore): Promise<void> {
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
  assert.deepEqual(
    (await store.list()).map((l) => l.mac),
    ['aa:00:00:00:00:01'],
  );
  // Every field comes back as it went in, the optional ones too.
  const full: Lease = { mac: 'aa:00:00:00:00:04', address: '10.0.0.13', state: 'offered', expiresAt: 1_764_000_000_123, hostname: 'node4', clientId: '01aa' };
  await store.put(full);
  assert.deepEqual(await store.get(full.mac), full);
  assert.deepEqual(await store.byAddress(full.address), full);
}
