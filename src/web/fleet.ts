// The fleet table's rows, rendered in TypeScript rather than Liquid: 10,000 rows through
// Liquid took most of a second, this takes a few milliseconds. Every value that is not a
// number goes through escapeHtml (versions and test names come from machines' uploads).
import type { FleetMachine } from '../boot/next-boot.ts';
import type { LatestResult } from '../testing/testing.ts';
import type { StaleFinding, StaleKind } from '../conductor/stale.ts';
import { utc } from './views.ts';
import type { WebContext } from './context.ts';

export type { LatestResult } from '../testing/testing.ts';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const SPECIAL = /[&<>"']/;

export function escapeHtml(text: string): string {
  // Most values (names, MACs, profiles) need no escaping: test before building a new string.
  return SPECIAL.test(text) ? text.replace(/[&<>"']/g, (c) => ESCAPES[c]!) : text;
}

/** A run's outcome in one word, so the pages never rely on colour alone. */
export function outcome(run: { state: string; errors: number; warnings: number }): string {
  if (run.state === 'error') return 'failed';
  if (run.state !== 'done') return run.state;
  if (run.errors > 0) return 'errors';
  return run.warnings > 0 ? 'warnings' : 'ok';
}

export function isFailing(run: LatestResult | undefined): boolean {
  return run !== undefined && (run.errors > 0 || run.state === 'error');
}

function resultCell(r: LatestResult | undefined): string {
  if (!r) return '<td class="none" data-field="result">none</td>';
  const word = outcome(r);
  return `<td class="r-${word}" data-field="result"><a href="/runs/${r.id}">${escapeHtml(r.test)}</a> <span class="st">${word}</span> <span class="n">I ${r.infos} · W ${r.warnings} · </span><span class="${r.errors > 0 ? 'bad' : 'n'}">E ${r.errors}</span></td>`;
}

/** What a stuck machine is, in a word or two (the sentence is in the tooltip and beside it). */
export const STALE_WORDS: Record<StaleKind, string> = { 'run-overdue': 'run overdue', 'boot-silent': 'silent after boot', 'deploy-quiet': 'deploy quiet' };

function staleCell(findings: readonly StaleFinding[] | undefined): string {
  if (!findings || findings.length === 0) return '<td data-field="stale"></td>';
  const parts = findings.map(
    (f) => `<span class="tag stuck" title="${escapeHtml(f.message)}">${STALE_WORDS[f.kind]}</span> <span class="n">${escapeHtml(f.message)}</span>`,
  );
  return `<td class="stuck" data-field="stale">${parts.join('<br>')}</td>`;
}

export interface RowOptions {
  /** A checkbox per row for the bulk form (operators). */
  readonly select?: boolean | undefined;
  /** What looks stuck, by machine id. */
  readonly stale?: ReadonlyMap<number, readonly StaleFinding[]> | undefined;
  /** A machine's owner conductor, for the owner column (shown on PostgreSQL, where several share the fleet). */
  readonly owner?: ((machineName: string) => string | undefined) | undefined;
}

/** The checkbox live.js carries over when it replaces a row: it stays where the operator left it. */
export const SELECT_FORM = 'bulk';

/** The <tr>s of the fleet table, one per machine, in the given order. */
export function fleetRows(machines: readonly FleetMachine[], latest: ReadonlyMap<string, LatestResult>, options: RowOptions = {}): string {
  const out: string[] = [];
  for (const m of machines) {
    const name = escapeHtml(m.name);
    const boot = m.lastBoot ? `${escapeHtml(m.lastBoot.profile)} · ${utc(m.lastBoot.at)}` : '';
    const select = options.select
      ? `<input type="checkbox" name="machine" value="${name}" form="${SELECT_FORM}" class="pick" aria-label="select ${name}">`
      : '';
    out.push(
      `<tr data-machine="${name}"><td class="name">${select}<a href="/machines/${name}">${name}</a></td><td class="mono">${escapeHtml(m.macs.join(' '))}</td><td data-field="next">${escapeHtml(m.nextProfile)}${m.nextOnce ? ' <span class="tag">once</span>' : ''}</td><td data-field="boot">${boot}</td>${resultCell(latest.get(m.name))}<td data-field="version">${escapeHtml(m.version ?? '')}</td><td data-field="power">${escapeHtml(m.powerState)}</td><td data-field="provision">${escapeHtml(m.provisionState)}</td><td data-field="driver">${escapeHtml(m.driver)}</td>${options.owner ? `<td class="mono" data-field="owner">${escapeHtml(options.owner(m.name) ?? '')}</td>` : ''}${staleCell(options.stale?.get(m.id))}</tr>`,
    );
  }
  return out.join('\n');
}

/**
 * The owner column's cell text, or none: on SQLite one process owns every machine, so a column
 * naming it in every row says nothing; on PostgreSQL each machine's conductor by the hash ring.
 */
export function ownerColumn(conductors: Pick<WebContext, 'conductors'>['conductors'] | undefined): ((name: string) => string | undefined) | undefined {
  if (!conductors || conductors.ownsEverything) return undefined;
  return (name) => conductors.ownerOf(name);
}
