// Issue 15's flood: unauthenticated boots as random MACs with 8 KB arch strings grew the
// discovered table (40 MB for 5,000) without bound. The table keeps its cap (least recently
// seen evicted), fields are cut, each source adds new rows at a bounded rate, and /metrics
// counts what was dropped; every machine still gets its boot answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { parseExposition, valueOf } from '../helpers/prometheus.ts';
import { TokenBuckets } from '../../src/boot/discovered.ts';

const mac = (i: number) =>
  `52:54:00:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
const LONG = 'x'.repeat(8192);

async function scrape(a: Awaited<ReturnType<typeof testAnvil>>) {
  const r = await a.api('/metrics');
  assert.equal(r.status, 200);
  return parseExposition(await r.text());
}

test('a flood of unknown MACs with 8 KB fields keeps the discovered table at its cap, fields cut, evictions counted', { timeout: 60_000 }, async (t) => {
  let now = Date.parse('2026-12-01T10:00:00.000Z');
  const a = await testAnvil(t, { powerSync: false, clock: () => new Date(now), discovered: { maxRows: 20, rate: false } });
  for (let i = 0; i < 80; i++) {
    now += 1000;
    const r = await fetch(`${a.url}/boot/${mac(i)}?arch=${LONG}`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /listed as discovered/);
  }
  assert.equal(await a.services.discovered.count(), 20);
  const rows = await a.services.discovered.list();
  assert.deepEqual(rows.map((r) => r.mac).sort(), Array.from({ length: 20 }, (_, k) => mac(60 + k)).sort(), 'the 20 most recently seen are kept');
  for (const row of rows) assert.equal(row.arch, LONG.slice(0, 64));
  const m = await scrape(a);
  assert.equal(valueOf(m, 'anvil_discovered_evicted_total'), 60);
  assert.equal(valueOf(m, 'anvil_discovered_machines'), 20);
  assert.equal(valueOf(m, 'anvil_discovered_rate_limited_total'), 0);

  // A kept machine booting again is seen again, and is not what gets evicted next.
  now += 1000;
  assert.equal((await fetch(`${a.url}/boot/${mac(60)}?arch=x86_64`)).status, 200);
  now += 1000;
  assert.equal((await fetch(`${a.url}/boot/${mac(999)}`)).status, 200);
  const macs = new Set((await a.services.discovered.list()).map((r) => r.mac));
  assert.ok(macs.has(mac(60)) && macs.has(mac(999)) && !macs.has(mac(61)), 'the least recently seen (61) went');
});

test('one source adding new discovered machines too fast is answered but not listed, and counted', { timeout: 60_000 }, async (t) => {
  let now = Date.parse('2026-12-01T10:00:00.000Z');
  const a = await testAnvil(t, { powerSync: false, clock: () => new Date(now), discovered: { rate: { burst: 5, perSecond: 1 } } });
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${a.url}/boot/${mac(i)}?arch=x86_64`);
    assert.equal(r.status, 200, 'over the rate the machine still gets its answer');
    assert.match(await r.text(), /no machine has MAC/);
  }
  assert.equal(await a.services.discovered.count(), 5, 'the burst');
  // A listed machine booting again is not a new row: it is seen whatever the bucket holds.
  assert.equal((await fetch(`${a.url}/boot/${mac(0)}`)).status, 200);
  assert.equal((await a.services.discovered.list()).find((r) => r.mac === mac(0))?.boots, 2);
  let m = await scrape(a);
  assert.equal(valueOf(m, 'anvil_discovered_rate_limited_total'), 5);

  now += 2000; // two tokens back
  for (let i = 10; i < 15; i++) assert.equal((await fetch(`${a.url}/boot/${mac(i)}`)).status, 200);
  assert.equal(await a.services.discovered.count(), 7);
  m = await scrape(a);
  assert.equal(valueOf(m, 'anvil_discovered_rate_limited_total'), 8);
});

test('token buckets: per key, refilled with time up to the burst, and the oldest key forgotten past the cap', () => {
  const b = new TokenBuckets({ burst: 2, perSecond: 1 }, 2);
  assert.deepEqual([b.take('a', 0), b.take('a', 0), b.take('a', 0)], [true, true, false]);
  assert.equal(b.take('b', 0), true, 'another source has its own bucket');
  assert.equal(b.take('a', 999), false);
  assert.equal(b.take('a', 1000), true);
  assert.deepEqual([b.take('a', 100_000), b.take('a', 100_000), b.take('a', 100_000)], [true, true, false], 'never more than the burst');
  b.take('c', 100_000); // a third key: b, the least recently used, is forgotten
  assert.deepEqual([b.take('b', 100_000), b.take('b', 100_000), b.take('b', 100_000)], [true, true, false], 'b starts afresh');
});
