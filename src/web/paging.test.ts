import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnvilError } from '../common/errors.ts';
import { pageAsked, pageHref, paging, withParam } from './paging.ts';

test('paging says which rows a page holds and links the pages around it', () => {
  const href = (p: number) => `/m?runs=${p}`;
  const first = paging(730, 1, 50, href);
  assert.deepEqual([first.page, first.pages, first.offset, first.text, first.prev, first.next], [1, 15, 0, '1–50 of 730', undefined, '/m?runs=2']);
  assert.deepEqual(
    first.links.map((l) => l?.page ?? '…'),
    [1, 2, 3, 4, '…', 15],
  );
  const middle = paging(730, 8, 50, href);
  assert.equal(middle.text, '351–400 of 730');
  assert.deepEqual(
    middle.links.map((l) => (l === null ? '…' : l.current ? `[${l.page}]` : l.page)),
    [1, '…', 5, 6, 7, '[8]', 9, 10, 11, '…', 15],
  );
  const last = paging(730, 15, 50, href);
  assert.deepEqual([last.text, last.next, last.prev], ['701–730 of 730', undefined, '/m?runs=14']);
  // Past the end: the last page; an empty list: one empty page.
  assert.equal(paging(730, 99, 50, href).page, 15);
  assert.deepEqual([paging(0, 3, 50, href).text, paging(0, 3, 50, href).pages, paging(0, 3, 50, href).links.length], ['none', 1, 1]);
  assert.equal(paging(50, 1, 50, href).pages, 1);
  assert.equal(paging(51, 2, 50, href).text, '51–51 of 51');
});

test('a page number in the query is a positive whole number, or a clear error', () => {
  assert.equal(pageAsked({}, 'runs'), 1);
  assert.equal(pageAsked({ runs: '' }, 'runs'), 1);
  assert.equal(pageAsked({ runs: '12' }, 'runs'), 12);
  for (const bad of ['0', '-1', '1.5', 'two', '1e3', '99999999999']) {
    assert.throws(
      () => pageAsked({ runs: bad }, 'runs'),
      (e: unknown) => e instanceof AnvilError && e.code === 'INVALID_PAGE' && e.message.includes(`?runs=${bad}`),
    );
  }
});

test('page links keep the other parameters and leave page 1 out', () => {
  const query = { test: 'disk check', runs: '3', timeline: '2' };
  assert.equal(pageHref('/machines/n1', query, 'runs', 4), '/machines/n1?test=disk+check&timeline=2&runs=4');
  assert.equal(pageHref('/machines/n1', query, 'runs', 1), '/machines/n1?test=disk+check&timeline=2');
  assert.equal(pageHref('/versions', {}, 'page', 1), '/versions');
  assert.equal(withParam('/machines/n1', { runs: '3' }, 'test', 'a&b'), '/machines/n1?runs=3&test=a%26b');
});
