// List routes answer in pages (issue 15: GET /api/v1/discovered returned 41 MB in one answer):
// ?limit= and ?offset=, a Link rel="next" while more rows follow; walking the links visits every
// row exactly once, and the OpenAPI document says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testAnvil, type TestAnvil } from '../helpers/anvil-inproc.ts';

const mac = (i: number) => `52:54:00:aa:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

/** Follows Link rel="next" from `path`; the pages' rows in order. */
async function walk(a: TestAnvil, path: string): Promise<{ pages: number; rows: unknown[] }> {
  const rows: unknown[] = [];
  let pages = 0;
  let next: string | undefined = path;
  while (next !== undefined) {
    const r = await a.api(next);
    assert.equal(r.status, 200, await r.clone().text());
    rows.push(...((await r.json()) as unknown[]));
    pages++;
    const link = r.headers.get('link');
    next = link === null ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
    if (link !== null) assert.ok(next, `a Link header that names the next page: ${link}`);
    assert.ok(pages <= 1000, 'the walk ends');
  }
  return { pages, rows };
}

test('GET /api/v1/discovered in pages: every row once, default and maximum limits, documented', { timeout: 60_000 }, async (t) => {
  let now = Date.parse('2026-12-01T10:00:00.000Z');
  const a = await testAnvil(t, { powerSync: false, clock: () => new Date(now), discovered: { rate: false } });
  for (let i = 0; i < 250; i++) {
    if (i % 3 === 0) now += 1000; // some rows share a last_seen: the order must still be total
    await a.services.discovered.record(mac(i), { arch: 'x86_64' });
  }
  const byDefault = await a.api('/api/v1/discovered');
  assert.equal(((await byDefault.json()) as unknown[]).length, 100, 'a page of 100 unless asked');
  assert.equal(byDefault.headers.get('link'), '</api/v1/discovered?limit=100&offset=100>; rel="next"');

  const all = (await a.services.discovered.list()).map((r) => r.mac);
  for (const limit of [1, 7, 100, 250, 1000]) {
    const { pages, rows } = await walk(a, `/api/v1/discovered?limit=${limit}`);
    const macs = rows.map((r) => (r as { mac: string }).mac);
    assert.equal(macs.length, 250, `limit ${limit}: every row`);
    assert.equal(new Set(macs).size, 250, `limit ${limit}: each once`);
    assert.deepEqual(macs, all, `limit ${limit}: newest first, as unpaged`);
    assert.equal(pages, Math.ceil(250 / limit), `limit ${limit}: no empty last page`);
  }
  const last = await a.api('/api/v1/discovered?limit=50&offset=200');
  assert.equal(((await last.json()) as unknown[]).length, 50);
  assert.equal(last.headers.get('link'), null, 'no next page after the last row');
  assert.equal((await a.api('/api/v1/discovered?limit=1001')).status, 400);
  assert.equal((await a.api('/api/v1/discovered?limit=0')).status, 400);
  assert.equal((await a.api('/api/v1/discovered?offset=-1')).status, 400);

  const doc = (await (await fetch(`${a.url}/api/v1/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { description?: string; parameters?: Array<{ name: string; in: string }> }>>;
  };
  const op = doc.paths['/api/v1/discovered']!.get!;
  assert.deepEqual(
    op.parameters
      ?.filter((p) => p.in === 'query')
      .map((p) => p.name)
      .sort(),
    ['limit', 'offset'],
  );
  assert.match(op.description ?? '', /rel="next"/);
});

test('the other list routes page the same way: machines, runs, events, boot log, tokens, images', { timeout: 60_000 }, async (t) => {
  const a = await testAnvil(t, { powerSync: false });
  for (let i = 0; i < 11; i++) await a.services.machines.add(`m${String(i).padStart(2, '0')}`, [mac(i)]);
  const m = await a.services.machines.find('m00');
  for (let i = 0; i < 7; i++) await a.services.nextBoot.set('m00', i % 2 ? 'install' : 'local');
  await a.services.testing.queue(m, ['hello', 'hello', 'hello', 'hello', 'hello']);
  for (let i = 0; i < 8; i++) await a.services.events.record(m.id, 'maintenance', `event ${i}`);
  for (let i = 0; i < 6; i++) await a.services.tokens.create('viewer', `t${i}`);

  const cases: Array<[string, (row: never) => unknown]> = [
    ['/api/v1/machines', (r: { name: string }) => r.name],
    ['/api/v1/machines/m00/runs', (r: { id: number }) => r.id],
    ['/api/v1/machines/m00/events', (r: { id: number }) => r.id],
    ['/api/v1/machines/m00/boot-log', (r: { id: number }) => r.id],
    ['/api/v1/tokens', (r: { id: number }) => r.id],
    ['/api/v1/images', (r: { name: string }) => r.name],
  ];
  for (const [path, key] of cases) {
    const whole = (await (await a.api(`${path}?limit=1000`)).json()) as never[];
    const { pages, rows } = await walk(a, `${path}?limit=3`);
    assert.deepEqual(
      rows.map((r) => key(r as never)),
      whole.map(key),
      `${path}: every row once, in order`,
    );
    assert.equal(pages, Math.max(1, Math.ceil(whole.length / 3)), path);
    if (path !== '/api/v1/images') assert.ok(whole.length > 3, `${path} has more than one page (${whole.length})`);
  }
});
