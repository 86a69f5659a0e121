import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLEET_DEFAULTS, fleetBack, fleetHref, fleetQueryOf, isFiltered, parseFleetParams } from './fleet-query.ts';
import { bulkAnswer, eachLimited } from './fleet-bulk.ts';
import { summaryChart } from './fleet-summary.ts';

test('the fleet page’s parameters: defaults, each value read, groups expanded into the search', () => {
  assert.deepEqual(parseFleetParams({}), FLEET_DEFAULTS);
  const p = parseFleetParams({
    q: ' 52:54:00 ',
    power: 'on',
    state: 'busy',
    driver: 'ipmi',
    result: 'failing',
    stale: '1',
    sort: 'boot',
    dir: 'desc',
    page: '3',
    'per-page': '25',
  });
  assert.deepEqual(p, {
    q: '52:54:00',
    power: 'on',
    state: 'busy',
    driver: 'ipmi',
    result: 'failing',
    owner: '',
    stale: '1',
    sort: 'boot',
    dir: 'desc',
    page: 3,
    perPage: 25,
  });
  assert.equal(isFiltered(p), true);
  assert.equal(isFiltered(parseFleetParams({ sort: 'power', page: '2' })), false);
  assert.deepEqual(fleetQueryOf(p, [4, 9]), {
    filter: {
      text: '52:54:00',
      power: ['on'],
      provision: ['deploying', 'wait-callback', 'undeploying', 'capturing', 'capture-wait'],
      driver: ['ipmi'],
      result: ['errors', 'failed'],
      ids: [4, 9],
    },
    sort: 'boot',
    descending: true,
    offset: 50,
    limit: 25,
  });
  const plain = fleetQueryOf(parseFleetParams({ state: 'active', result: 'none' }), [4]);
  assert.deepEqual(plain.filter, { text: undefined, power: undefined, provision: ['active'], driver: undefined, result: ['none'], ids: undefined });
  assert.deepEqual(fleetQueryOf(parseFleetParams({ state: 'failed' }), []).filter?.provision, ['deploy-failed', 'capture-failed', 'error']);
  // An owner: its machines; with stale=1, those of them that look stuck; an owner with none matches none.
  const owner = parseFleetParams({ owner: 'host-a:1234:0f0f0f' });
  assert.equal(owner.owner, 'host-a:1234:0f0f0f');
  assert.equal(isFiltered(owner), true);
  assert.equal(fleetHref(owner), '/?owner=host-a%3A1234%3A0f0f0f');
  assert.deepEqual(fleetQueryOf(owner, [4], [3, 4, 5]).filter?.ids, [3, 4, 5]);
  assert.deepEqual(fleetQueryOf({ ...owner, stale: '1' }, [4, 9], [3, 4, 5]).filter?.ids, [4]);
  assert.deepEqual(fleetQueryOf(owner, [], []).filter?.ids, []);
  assert.equal(fleetQueryOf(owner, [4], 'all').filter?.ids, undefined, 'an owner of every machine: no list of ids');
  assert.deepEqual(fleetQueryOf({ ...owner, stale: '1' }, [4], 'all').filter?.ids, [4]);
  assert.equal(fleetQueryOf(parseFleetParams({}), [], [3]).filter?.ids, undefined, 'no owner asked: no condition');
});

test('a value the fleet page does not know is a clear error', () => {
  const bad = (query: Record<string, string>, message: RegExp) =>
    assert.throws(
      () => parseFleetParams(query),
      (e: Error & { code?: string }) => e.code === 'INVALID_FLEET_QUERY' && message.test(e.message),
    );
  bad({ power: 'sideways' }, /power=sideways is not one of on, off(,)? and unknown/);
  bad({ state: 'deployed' }, /state=deployed is not one of enroll, /);
  bad({ sort: 'mac' }, /sort=mac is not one of name, /);
  bad({ dir: 'up' }, /dir=up/);
  bad({ page: '0' }, /page=0 is not a whole number from 1/);
  bad({ page: 'two' }, /page=two/);
  bad({ 'per-page': '7' }, /per-page=7 is not one of 25, 50, 100, 250, 500, 1000/);
  bad({ q: 'x'.repeat(65) }, /the search is 65 characters/);
  bad({ driver: '<ipmi>' }, /driver=<ipmi> is not a driver name/);
  bad({ stale: 'yes' }, /stale=yes/);
  bad({ owner: '<script>' }, /owner=<script> is not a conductor id/);
});

test('fleet links keep what is set, leave defaults out, and lead back only to the fleet', () => {
  const p = parseFleetParams({ q: 'rack 1&2', power: 'off', sort: 'power' });
  assert.equal(fleetHref(p), '/?q=rack+1%262&power=off&sort=power');
  assert.equal(fleetHref(p, { page: 2, perPage: 50 }), '/?q=rack+1%262&power=off&sort=power&page=2&per-page=50');
  assert.equal(fleetHref(FLEET_DEFAULTS), '/');
  assert.deepEqual(parseFleetParams(Object.fromEntries(new URL(fleetHref(p, { page: 4 }), 'http://x').searchParams)), { ...p, page: 4 });
  assert.equal(fleetBack('/?q=rack+1%262&page=2'), '/?q=rack+1%262&page=2');
  for (const elsewhere of ['//evil.example/', 'https://evil.example/', '/machines/x', '/?q=<script>', '', '/\\evil'])
    assert.equal(fleetBack(elsewhere), '/', elsewhere);
});

test('a bulk answer says how many succeeded and which failed and why, within its length', () => {
  assert.equal(bulkAnswer('Power off', 3, []), 'Power off on 3 machines: 3 done.');
  assert.equal(bulkAnswer('Power on', 1, []), 'Power on on 1 machine: 1 done.');
  assert.equal(
    bulkAnswer('Power off', 3, [{ name: 'desk1', why: "machine 'desk1' has no controller" }]),
    "Power off on 3 machines: 2 done, 1 failed — desk1: machine 'desk1' has no controller.",
  );
  const many = Array.from({ length: 200 }, (_, i) => ({ name: `n${i}`, why: 'the BMC did not answer within 10 s' }));
  const text = bulkAnswer('Power cycle', 500, many, 400);
  assert.ok(text.length <= 400, `${text.length}`);
  assert.match(text, /^Power cycle on 500 machines: 300 done, 200 failed — n0: the BMC did not answer within 10 s; n1: /);
  const shown = text.match(/n\d+: /g)!.length;
  assert.match(text, new RegExp(`; and ${200 - shown} more \\(the server log lists them\\)\\.$`));
});

test('bulk work runs a few at a time and reports each failure by name, in order', async () => {
  let running = 0;
  let most = 0;
  const names = Array.from({ length: 20 }, (_, i) => `m${i}`);
  const failures = await eachLimited(names, 3, async (name) => {
    running++;
    most = Math.max(most, running);
    await new Promise((resolve) => setImmediate(resolve));
    running--;
    if (name.endsWith('7')) throw new Error(`${name} broke`);
  });
  assert.equal(most, 3);
  assert.deepEqual(
    failures.map((f) => [f.name, (f.error as Error).message]),
    [
      ['m7', 'm7 broke'],
      ['m17', 'm17 broke'],
    ],
  );
});

test('the summary chart: one bar per group, its width its share of the fleet, each a link', () => {
  const svg = summaryChart(
    [
      { key: 'on', label: 'on', title: 'Powered on', count: 7500, href: '/?power=on' },
      { key: 'stale', label: 'stale', title: 'Stuck <now>', count: 0, href: '/?stale=1' },
    ],
    10_000,
  );
  assert.match(svg, /^<svg class="summary" viewBox="0 0 640 48"/);
  assert.match(svg, /aria-label="Fleet of 10,000: 7,500 on, 0 stale"/);
  assert.match(svg, /<a href="\/\?power=on" class="s-on" data-summary="on"><title>Powered on: 7,500 of 10,000 \(75 %\)<\/title>/);
  // 460 px for the bars: three quarters is 345.
  assert.match(svg, /<rect x="110" y="5" width="345" height="16" class="s-bar"\/>/);
  assert.match(svg, /<title>Stuck &lt;now&gt;: 0 of 10,000 \(0 %\)<\/title>.*width="0" height="16" class="s-bar"/);
  assert.match(svg, /class="s-count">7,500<\/text>/);
});
