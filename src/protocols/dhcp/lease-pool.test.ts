// Server-mode address management with a fake clock: stickiness, RFC 2131 §4.3.2 REQUEST
// states, RELEASE, DECLINE, expiry and exhaustion.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeasePool } from './lease-pool.ts';
import { MemoryLeaseStore } from './lease-store.ts';

const A = 'aa:aa:aa:aa:aa:01';
const B = 'aa:aa:aa:aa:aa:02';
const C = 'aa:aa:aa:aa:aa:03';

function setup(range = { start: '10.0.0.10', end: '10.0.0.12' }) {
  let now = 1_000_000;
  const store = new MemoryLeaseStore();
  const pool = new LeasePool(store, { ...range, leaseTime: 60, offerHoldMs: 5_000, declineHoldMs: 30_000 }, () => now);
  return { pool, store, advance: (ms: number) => (now += ms) };
}

async function bind(pool: LeasePool, mac: string) {
  const offer = await pool.offer(mac);
  assert.ok(offer);
  const r = await pool.request({ mac, serverIdIsOurs: true, requested: offer.address, ciaddr: '0.0.0.0' });
  assert.equal(r.kind, 'ack');
  return offer.address;
}

test('DISCOVER → REQUEST binds; the same MAC keeps its address after RELEASE (stickiness)', async () => {
  const { pool, store } = setup();
  const a = await bind(pool, A);
  assert.equal(a, '10.0.0.10');
  assert.equal((await store.byAddress(a))?.state, 'bound');
  const b = await bind(pool, B);
  assert.equal(b, '10.0.0.11');
  assert.equal(await pool.release(A, a), true);
  assert.equal((await store.get(A))?.state, 'released');
  assert.equal(await bind(pool, C), '10.0.0.12', "a never-used address before A's released one");
  assert.equal(await bind(pool, A), a);
});

test('option 50 is honoured when the address is free', async () => {
  const { pool } = setup();
  assert.equal((await pool.offer(A, '10.0.0.12'))?.address, '10.0.0.12');
  assert.equal((await pool.offer(B, '10.0.0.12'))?.address, '10.0.0.10', 'held for A: B gets another');
  assert.equal((await pool.offer(C, '192.168.1.5'))?.address, '10.0.0.11', 'out of range: ignored');
});

test('an exhausted range offers nothing, until a lease lapses', async () => {
  const { pool, advance } = setup({ start: '10.0.0.10', end: '10.0.0.10' });
  await bind(pool, A);
  assert.equal(await pool.offer(B), undefined);
  advance(61_000);
  assert.equal((await pool.offer(B))?.address, '10.0.0.10');
});

test('an unanswered offer lapses after the hold time', async () => {
  const { pool, advance } = setup({ start: '10.0.0.10', end: '10.0.0.10' });
  await pool.offer(A);
  assert.equal(await pool.offer(B), undefined);
  advance(5_001);
  assert.equal((await pool.offer(B))?.address, '10.0.0.10');
  const late = await pool.request({ mac: A, serverIdIsOurs: true, requested: '10.0.0.10', ciaddr: '0.0.0.0' });
  assert.equal(late.kind, 'nak');
});

test('SELECTING another server releases our offer at once and stays silent', async () => {
  const { pool, store } = setup();
  await pool.offer(A);
  const r = await pool.request({ mac: A, serverIdIsOurs: false, requested: '10.0.0.99', ciaddr: '0.0.0.0' });
  assert.equal(r.kind, 'silent');
  assert.equal(await store.get(A), undefined);
});

test('SELECTING us with an address we did not offer is a NAK', async () => {
  const { pool } = setup();
  await pool.offer(A);
  const r = await pool.request({ mac: A, serverIdIsOurs: true, requested: '10.0.0.11', ciaddr: '0.0.0.0' });
  assert.equal(r.kind, 'nak');
});

test("INIT-REBOOT: own or free address in range → ACK; another network or another MAC's → NAK", async () => {
  const { pool } = setup();
  const a = await bind(pool, A);
  assert.equal((await pool.request({ mac: A, serverIdIsOurs: undefined, requested: a, ciaddr: '0.0.0.0' })).kind, 'ack');
  assert.equal((await pool.request({ mac: B, serverIdIsOurs: undefined, requested: a, ciaddr: '0.0.0.0' })).kind, 'nak');
  assert.equal((await pool.request({ mac: B, serverIdIsOurs: undefined, requested: '172.16.0.1', ciaddr: '0.0.0.0' })).kind, 'nak');
  assert.equal((await pool.request({ mac: B, serverIdIsOurs: undefined, requested: '10.0.0.12', ciaddr: '0.0.0.0' })).kind, 'ack');
});

test('RENEWING extends the lease of its holder (ciaddr, no option 50)', async () => {
  const { pool, store, advance } = setup();
  const a = await bind(pool, A);
  const before = (await store.get(A))!.expiresAt;
  advance(30_000);
  const r = await pool.request({ mac: A, serverIdIsOurs: undefined, requested: undefined, ciaddr: a });
  assert.equal(r.kind, 'ack');
  assert.equal((await store.get(A))!.expiresAt, before + 30_000);
  assert.equal((await pool.request({ mac: B, serverIdIsOurs: undefined, requested: undefined, ciaddr: a })).kind, 'nak');
});

test('DECLINE keeps the address out of the pool for the hold time (RFC 2131 §4.3.3)', async () => {
  const { pool, store, advance } = setup({ start: '10.0.0.10', end: '10.0.0.11' });
  const a = await bind(pool, A);
  assert.equal(await pool.decline(A, a), true);
  assert.equal(await store.get(A), undefined);
  assert.equal((await pool.offer(A))?.address, '10.0.0.11');
  assert.equal(await pool.offer(B), undefined);
  advance(30_001);
  assert.equal((await pool.offer(B))?.address, a);
});

test('only the holder can release', async () => {
  const { pool } = setup();
  const a = await bind(pool, A);
  assert.equal(await pool.release(B, a), false);
});

test('a range that ends before it starts is a configuration error', () => {
  assert.throws(() => new LeasePool(new MemoryLeaseStore(), { start: '10.0.0.9', end: '10.0.0.1' }), { code: 'DHCP_CONFIG' });
});
