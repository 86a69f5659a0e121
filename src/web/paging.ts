// Page links for the long lists (a machine's runs and timeline, the versions page): which page a
// query asks for, what rows it holds ("51–100 of 730") and the links around it. The lists are
// read a page at a time by the services; this only does the arithmetic.
import { invalid } from '../common/errors.ts';

/** Page links either side of the current one; first and last are always linked. */
export const PAGE_LINKS_AROUND = 3;

export interface PageLink {
  readonly page: number;
  readonly href: string;
  readonly current: boolean;
}

export interface Paging {
  readonly page: number;
  readonly pages: number;
  readonly offset: number;
  readonly limit: number;
  readonly total: number;
  /** "51–100 of 730", or "none" for an empty list. */
  readonly text: string;
  /** Page numbers to link, with null where pages are skipped ("…"). */
  readonly links: Array<PageLink | null>;
  readonly prev: string | undefined;
  readonly next: string | undefined;
}

/** The page number in `?name=N` (1 when absent); anything but a positive whole number is refused. */
export function pageAsked(query: Record<string, string | undefined>, name: string): number {
  const text = query[name];
  if (text === undefined || text === '') return 1;
  if (!/^[1-9]\d{0,8}$/.test(text)) throw invalid('INVALID_PAGE', `?${name}=${text} is not a page number; pages are counted from 1`);
  return Number(text);
}

/** The same URL with `?name=value` (other parameters kept; '' leaves the parameter out). */
export function withParam(path: string, query: Record<string, string | undefined>, name: string, value: string): string {
  const params = new URLSearchParams();
  for (const [key, v] of Object.entries(query)) if (key !== name && v !== undefined && v !== '') params.set(key, v);
  if (value !== '') params.set(name, value);
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

/** The same URL with `?name=page` (page 1 left out). */
export function pageHref(path: string, query: Record<string, string | undefined>, name: string, page: number): string {
  return withParam(path, query, name, page > 1 ? String(page) : '');
}

/** A page past the last one shows the last one: a list that shrank since the link was made. */
export function paging(total: number, asked: number, limit: number, href: (page: number) => string): Paging {
  const pages = Math.max(1, Math.ceil(total / limit));
  const page = Math.min(Math.max(1, asked), pages);
  const offset = (page - 1) * limit;
  const links: Array<PageLink | null> = [];
  const shown = new Set([1, pages]);
  for (let p = Math.max(1, page - PAGE_LINKS_AROUND); p <= Math.min(pages, page + PAGE_LINKS_AROUND); p++) shown.add(p);
  let before = 0;
  for (const p of [...shown].sort((a, b) => a - b)) {
    if (p > before + 1) links.push(null);
    links.push({ page: p, href: href(p), current: p === page });
    before = p;
  }
  const last = Math.min(total, offset + limit);
  return {
    page,
    pages,
    offset,
    limit,
    total,
    text: total === 0 ? 'none' : `${offset + 1}–${last} of ${total}`,
    links,
    prev: page > 1 ? href(page - 1) : undefined,
    next: page < pages ? href(page + 1) : undefined,
  };
}
