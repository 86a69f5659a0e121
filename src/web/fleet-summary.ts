// The fleet's summary strip: how many machines are on, off, being deployed, failed, failing
// their tests and stuck, drawn server-side as an SVG bar chart (no script, no library). The
// groups overlap (a machine is on and failing), so each bar is its share of the whole fleet
// rather than a slice of one stacked bar; each bar links to the fleet filtered to it.
import { escapeHtml } from './fleet.ts';

export interface SummaryBar {
  /** A CSS class and the word shown. */
  readonly key: 'on' | 'off' | 'deploying' | 'failed' | 'failing' | 'stale';
  readonly label: string;
  /** What it counts, in the bar's tooltip. */
  readonly title: string;
  readonly count: number;
  /** The fleet page filtered to these machines. */
  readonly href: string;
}

export const SUMMARY_WIDTH = 640;
const ROW = 22;
const LABEL = 110;
const COUNT = 70;

const thousands = (n: number) => n.toLocaleString('en-US');

/** The chart's <svg>; every bar's width is its count over `total`. */
export function summaryChart(bars: readonly SummaryBar[], total: number): string {
  const room = SUMMARY_WIDTH - LABEL - COUNT;
  const height = bars.length * ROW + 4;
  const said = bars.map((b) => `${thousands(b.count)} ${b.label}`).join(', ');
  const out = [
    `<svg class="summary" viewBox="0 0 ${SUMMARY_WIDTH} ${height}" width="${SUMMARY_WIDTH}" height="${height}" role="group" aria-label="${escapeHtml(`Fleet of ${thousands(total)}: ${said}`)}">`,
  ];
  bars.forEach((b, i) => {
    const y = i * ROW + 2;
    const width = total > 0 ? Math.max(b.count > 0 ? 2 : 0, Math.round((room * b.count) / total)) : 0;
    const percent = total > 0 ? Math.round((100 * b.count) / total) : 0;
    out.push(
      `<a href="${escapeHtml(b.href)}" class="s-${b.key}" data-summary="${b.key}"><title>${escapeHtml(`${b.title}: ${thousands(b.count)} of ${thousands(total)} (${percent} %)`)}</title>` +
        `<text x="${LABEL - 8}" y="${y + 15}" text-anchor="end" class="s-label">${escapeHtml(b.label)}</text>` +
        `<rect x="${LABEL}" y="${y + 3}" width="${room}" height="${ROW - 6}" class="s-track"/>` +
        `<rect x="${LABEL}" y="${y + 3}" width="${width}" height="${ROW - 6}" class="s-bar"/>` +
        `<text x="${LABEL + room + 8}" y="${y + 15}" class="s-count">${thousands(b.count)}</text></a>`,
    );
  });
  out.push('</svg>');
  return out.join('');
}
