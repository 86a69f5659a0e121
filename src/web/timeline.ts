// The machine page's timeline rows: boots, runs and events (power, provision, …) as one table,
// each said the same way whatever it came from. The merge and the paging are the service's.
import type { TimelineEntry } from '../machines/machines.ts';
import { outcome } from './fleet.ts';
import { utc } from './views.ts';

export interface TimelineRow {
  readonly at: string;
  /** boot, nextboot, run, or the event's kind (power, provision, lock, …): the row's class. */
  readonly kind: string;
  /** What happened, in words: "boot served", "power", "test run". */
  readonly event: string;
  readonly what: string;
  /** A link for `what` (a run's page), or ''. */
  readonly href: string;
  readonly detail: string;
  /** A run's outcome (ok, errors, failed, requested, …), else ''. */
  readonly outcome: string;
}

export function timelineRow(entry: TimelineEntry): TimelineRow {
  const at = utc(entry.at);
  if (entry.source === 'boot') {
    const b = entry.boot;
    const boot = b.kind === 'boot';
    const detail = [b.reason, b.loader, b.arch, b.address].filter((part) => part).join(' · ');
    return { at, kind: boot ? 'boot' : 'nextboot', event: boot ? 'boot served' : 'next boot set', what: b.profile, href: '', detail, outcome: '' };
  }
  if (entry.source === 'run') {
    const r = entry.run;
    const result = outcome(r);
    const counts = r.state === 'done' ? ` · I ${r.infos} W ${r.warnings} E ${r.errors}${r.version ? ` · ${r.version}` : ''}` : '';
    const why = r.state === 'error' && r.error_reason ? ` · ${r.error_reason}` : '';
    return { at, kind: 'run', event: 'test run', what: `run ${r.id} ${r.test}`, href: `/runs/${r.id}`, detail: `${result}${counts}${why}`, outcome: result };
  }
  const e = entry.event;
  return { at, kind: e.kind, event: e.kind, what: '', href: '', detail: e.message, outcome: '' };
}
