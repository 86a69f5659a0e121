// The web pages' Liquid engine: views in ./views, every output HTML-escaped (uploads and
// machine names are outside input; an upload may well contain <script>), times in UTC.
import { fileURLToPath } from 'node:url';
import { Liquid } from 'liquidjs';

export const VIEWS_DIR = fileURLToPath(new URL('./views/', import.meta.url));

/** "2026-11-21 05:55:47" from a stored ISO-8601 UTC timestamp; '' for none. */
export function utc(iso: string | null | undefined): string {
  if (!iso) return '';
  return iso.length >= 19 ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : iso;
}

export function createViews(): Liquid {
  const engine = new Liquid({
    root: VIEWS_DIR,
    extname: '.liquid',
    outputEscape: 'escape',
    cache: true,
    strictFilters: true,
    ownPropertyOnly: true,
    greedy: false,
  });
  engine.registerFilter('utc', (value: unknown) => utc(typeof value === 'string' ? value : null));
  return engine;
}
