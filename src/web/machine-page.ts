// The machine page's data: its facts and operator forms, provisioning, what is stuck (the
// conductor's stale rules), a test's trend, its runs and its timeline of boots, runs and events,
// each list read a page at a time by the services and linked page by page.
import type { Viewer } from '../auth/web-session.ts';
import { TIMELINE_PAGE } from '../machines/machines.ts';
import { BOOT_DEVICES, POWER_REQUESTS } from '../conductor/machine-control.ts';
import { PROVISION_VERBS, TRANSIENT_STATES, nextState } from '../provisioning/states.ts';
import { WAIT_TEST } from '../testing/testing.ts';
import { bytes } from '../common/format.ts';
import type { WebContext } from './context.ts';
import { outcome } from './fleet.ts';
import { pageAsked, pageHref, paging, withParam } from './paging.ts';
import { timelineRow } from './timeline.ts';
import { trendOf } from './trend.ts';
import { utc } from './views.ts';

/** Runs on one page of the machine's runs table. */
export const RUNS_PAGE = 50;

type Query = Record<string, string | undefined>;

export async function machineView(ctx: WebContext, name: string, query: Query, viewer: Viewer): Promise<Record<string, unknown>> {
  const { machines, testing, profiles, images, provisioner, stale } = ctx;
  const machine = await machines.find(name);
  const path = `/machines/${encodeURIComponent(machine.name)}`;
  const runsAsked = pageAsked(query, 'runs');
  const timelineAsked = pageAsked(query, 'timeline');
  const [macs, runCount, timelineFirst, ran, findings, available, tests, provisioning, library] = await Promise.all([
    machines.macsOf(machine.id),
    testing.runCount(machine.id),
    machines.timeline(machine.id, TIMELINE_PAGE, (timelineAsked - 1) * TIMELINE_PAGE),
    testing.testsRunOn(machine.id),
    stale.find(machine.id),
    viewer.operator ? profiles.available() : Promise.resolve([]),
    viewer.operator ? testing.available() : Promise.resolve([]),
    provisioner.view(machine.name),
    viewer.operator ? images.list() : Promise.resolve([]),
  ]);
  const runPages = paging(runCount, runsAsked, RUNS_PAGE, (p) => pageHref(path, query, 'runs', p));
  const timelinePages = paging(timelineFirst.total, timelineAsked, TIMELINE_PAGE, (p) => pageHref(path, query, 'timeline', p));
  // A page asked past the end shows the last one (the list shrank, or a hand-made link).
  const timeline = timelinePages.page === timelineAsked ? timelineFirst : await machines.timeline(machine.id, TIMELINE_PAGE, timelinePages.offset);
  const trendTests = ran.filter((t) => t.test !== WAIT_TEST);
  const trendTest = query.test ?? trendTests[0]?.test;
  const [runs, trendRuns] = await Promise.all([
    testing.runsOf(machine.id, RUNS_PAGE, runPages.offset),
    trendTest === undefined ? Promise.resolve([]) : testing.trendOf(machine.id, trendTest),
  ]);
  const d = provisioning.deployment;
  const transient = (TRANSIENT_STATES as readonly string[]).includes(machine.provision_state);
  return {
    title: machine.name,
    nav: 'fleet',
    live: { page: 'machine', machine: machine.name },
    machine: {
      name: machine.name,
      next: machine.next_profile,
      once: machine.next_once === 1,
      version: machine.version ?? '',
      power: machine.power_state,
      provision: machine.provision_state,
      image: machine.image_name,
      driver: machine.driver,
    },
    stale: (findings.get(machine.id) ?? []).map((f) => ({ kind: f.kind, since: utc(f.since), message: f.message })),
    provisioning: {
      error: transient ? null : provisioning.error,
      deployment: d && {
        kind: d.kind,
        image: d.image,
        state: d.state,
        // 'writing (write)' says nothing the state does not.
        phase: d.phase && !d.state.startsWith(d.phase) ? d.phase : null,
        device: d.device,
        by: d.requestedBy,
        started: utc(d.startedAt),
        finished: d.finishedAt && utc(d.finishedAt),
        deadline: utc(d.deadline),
        done: d.bytesDone,
        total: d.bytesTotal,
        percent: d.bytesTotal > 0 ? Math.floor((100 * Math.min(d.bytesDone, d.bytesTotal)) / d.bytesTotal) : 0,
        doneText: bytes(d.bytesDone),
        totalText: bytes(d.bytesTotal),
        error: d.error,
      },
    },
    // The verbs the state table allows from here (capture has its own form).
    provisionVerbs: PROVISION_VERBS.filter((v) => v !== 'capture' && nextState(machine.provision_state, v) !== undefined),
    images: library.map((i) => i.name),
    // While anvil works on the machine, the page follows it.
    refresh: transient ? 3 : undefined,
    macs,
    timeline: timeline.entries.map(timelineRow),
    timelinePages,
    runs: runs.map((r) => ({
      run: r.id,
      test: r.test,
      outcome: outcome(r),
      requested: utc(r.requested_at),
      when: utc(r.finished_at),
      infos: r.infos,
      warnings: r.warnings,
      errors: r.errors,
      version: r.version ?? '',
    })),
    runPages,
    trendTest: trendTest ?? '',
    trendTests: trendTests.map((t) => ({ ...t, href: withParam(path, query, 'test', t.test), current: t.test === trendTest })),
    trend: trendTest === undefined ? undefined : trendOf(trendTest, trendRuns),
    profiles: available,
    tests: tests.filter((t) => t !== WAIT_TEST),
    // Power and boot-device buttons only where a controller can act on them.
    controllable: viewer.operator && machine.driver !== 'manual',
    powerRequests: POWER_REQUESTS,
    bootDevices: BOOT_DEVICES,
  };
}
