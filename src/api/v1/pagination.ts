// Paged list routes: `?limit=` (PAGE_DEFAULT, at most PAGE_MAX) and `?offset=`, and a
// `Link: <…>; rel="next"` header (RFC 8288) while more rows follow, so no list answer grows
// with the table behind it. A page is fetched as limit + 1 rows: the extra one says more exist.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';

export const PAGE_DEFAULT = 100;
export const PAGE_MAX = 1000;

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_MAX, description: `rows per page (default ${PAGE_DEFAULT})` })),
  offset: Type.Optional(Type.Integer({ minimum: 0, description: 'rows to skip: the next page is offset + limit, as the Link header says' })),
});
export type PageQueryType = Static<typeof PageQuery>;

/** Said in each paged route's description, which the OpenAPI document carries. */
export const PAGED = `Paged: ?limit= (default ${PAGE_DEFAULT}, at most ${PAGE_MAX}) and ?offset=; while more rows follow, the answer has a \`Link: <…>; rel="next"\` header with the next page's URL.`;

/** A page to fetch: `fetch` is asked for one row past the page. */
export interface Page {
  readonly limit: number;
  readonly offset: number;
}

export function pageOf(query: PageQueryType): Page {
  return { limit: query.limit ?? PAGE_DEFAULT, offset: query.offset ?? 0 };
}

/** Answers one page of `rows` (fetched with limit + 1), with the next page's Link when there is one. */
export function sendPage<T>(request: FastifyRequest, reply: FastifyReply, page: Page, rows: readonly T[]): T[] {
  if (rows.length <= page.limit) return [...rows];
  const next = new URL(request.url, 'http://anvil');
  next.searchParams.set('limit', String(page.limit));
  next.searchParams.set('offset', String(page.offset + page.limit));
  reply.header('link', `<${next.pathname}${next.search}>; rel="next"`);
  return rows.slice(0, page.limit);
}

/** The same for a list read whole (a short one, e.g. the tokens): sliced here. */
export function sliceForPage<T>(rows: readonly T[], page: Page): T[] {
  return rows.slice(page.offset, page.offset + page.limit + 1);
}
