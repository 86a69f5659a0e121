// The fleet table's rows, rendered in TypeScript rather than Liquid: 10,000 rows through
// Liquid took most of a second, this takes a few milliseconds. Every value that is not a
// number goes through escapeHtml (versions and test names come from machines' uploads).
import type { FleetMachine } from '../boot/next-boot.ts';
import type { LatestResult } from '../testing/testing.ts';
import { utc } from './views.ts';

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

/** The <tr>s of the fleet table, one per machine, in the given order. */
export function fleetRows(machines: readonly FleetMachine[], latest: ReadonlyMap<string, LatestResult>): string {
  const out: string[] = [];
  for (const m of machines) {
    const name = escapeHtml(m.name);
    const boot = m.lastBoot ? `${escapeHtml(m.lastBoot.profile)} · ${utc(m.lastBoot.at)}` : '';
    out.push(
      `<tr data-machine="${name}"><td><a href="/machines/${name}">${name}</a></td><td class="mono">${escapeHtml(m.macs.join(' '))}</td><td data-field="next">${escapeHtml(m.nextProfile)}${m.nextOnce ? ' <span class="tag">once</span>' : ''}</td><td data-field="boot">${boot}</td>${resultCell(latest.get(m.name))}<td data-field="version">${escapeHtml(m.version ?? '')}</td><td data-field="power">${escapeHtml(m.powerState)}</td><td data-field="provision">${escapeHtml(m.provisionState)}</td></tr>`,
    );
  }
  return out.join('\n');
}
