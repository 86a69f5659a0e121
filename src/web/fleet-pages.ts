// The fleet page: one page of machines searched, filtered and sorted in SQL (GET parameters, so
// it works without a script and every view is a link), the summary strip, what looks stuck, the
// discovered machines, and for operators the bulk form (fleet-bulk.ts) over the rows selected.
import type { WebContext } from './context.ts';
import { field, machinePath, type Kit } from './kit.ts';
import { utc } from './views.ts';
import { fleetRows, ownerColumn, STALE_WORDS } from './fleet.ts';
import { summaryChart, type SummaryBar } from './fleet-summary.ts';
import { bulkRoutes, BULK_ACTIONS } from './fleet-bulk.ts';
import {
  fleetHref,
  fleetQueryOf,
  isFiltered,
  parseFleetParams,
  PER_PAGE_CHOICES,
  POWER_FILTERS,
  RESULT_FILTERS,
  STATE_GROUPS,
  type FleetParams,
} from './fleet-query.ts';
import type { FleetSort } from '../machines/fleet-search.ts';
import { PROVISION_STATES, TRANSIENT_STATES } from '../provisioning/states.ts';
import { WAIT_TEST } from '../testing/testing.ts';

/** Discovered machines listed on the fleet page, most recently seen first (GET /api/v1/discovered has them all). */
export const DISCOVERED_SHOWN = 100;

const thousands = (n: number) => n.toLocaleString('en-US');

/** The table's columns; those with a sort have a link in their heading. */
const COLUMNS: ReadonlyArray<{ label: string; sort?: FleetSort; first?: 'asc' | 'desc' }> = [
  { label: 'Machine', sort: 'name' },
  { label: 'MACs' },
  { label: 'Next boot', sort: 'next' },
  // The most recent boot first, the worst result first.
  { label: 'Last boot', sort: 'boot', first: 'desc' },
  { label: 'Last result', sort: 'result' },
  { label: 'Version', sort: 'version' },
  { label: 'Power', sort: 'power' },
  { label: 'Provision', sort: 'provision' },
  { label: 'Driver', sort: 'driver' },
  // Only where conductors share the fleet (PostgreSQL): the hash ring's, not a column to sort.
  { label: 'Owner' },
  { label: 'Stale' },
];

function headings(p: FleetParams, owner: boolean) {
  return COLUMNS.filter((c) => owner || c.label !== 'Owner').map((c) => {
    if (!c.sort) return { label: c.label };
    const current = p.sort === c.sort;
    const dir = current ? (p.dir === 'asc' ? 'desc' : 'asc') : (c.first ?? 'asc');
    return {
      label: c.label,
      href: fleetHref(p, { sort: c.sort, dir, page: 1 }),
      sorted: current ? (p.dir === 'asc' ? 'ascending' : 'descending') : undefined,
      arrow: current ? (p.dir === 'asc' ? '▲' : '▼') : '',
    };
  });
}

function pager(p: FleetParams, total: number) {
  const pages = Math.max(1, Math.ceil(total / p.perPage));
  const link = (page: number, label: string, rel?: string) => ({
    label,
    href: page >= 1 && page <= pages && page !== p.page ? fleetHref(p, { page }) : '',
    rel,
  });
  return {
    page: p.page,
    pages,
    pagesText: thousands(pages),
    links: [link(1, '« first'), link(p.page - 1, '‹ previous', 'prev'), link(p.page + 1, 'next ›', 'next'), link(pages, 'last »')],
  };
}

export function fleetPages(kit: Kit, ctx: WebContext): void {
  const { nextBoot, discovered, testing, machines, stale, profiles, images, conductors } = ctx;
  kit.page('/', 'fleet', async (request, viewer) => {
    const asked = parseFleetParams(request.query);
    const owner = ownerColumn(conductors);
    const [findings, states, failing, found, discoveredCount, available, tests, library, owned] = await Promise.all([
      stale.find(),
      machines.tally(),
      machines.search({ filter: { result: ['errors', 'failed'] }, limit: 0 }),
      discovered.list(DISCOVERED_SHOWN),
      discovered.count(),
      viewer.operator ? profiles.available() : Promise.resolve([]),
      viewer.operator ? testing.available() : Promise.resolve([]),
      viewer.operator ? images.list() : Promise.resolve([]),
      // The ring lives in memory, not in SQL: the owner's machines become a list of ids to match.
      asked.owner !== '' ? conductors.machinesOf(asked.owner) : Promise.resolve(undefined),
    ]);
    const staleIds = [...findings.keys()];
    const fleetSize = states.reduce((n, s) => n + s.count, 0);
    const ownedIds = owned && owned.length === fleetSize ? 'all' : owned;
    let result = await nextBoot.fleetPage(fleetQueryOf(asked, staleIds, ownedIds));
    const last = Math.max(1, Math.ceil(result.total / asked.perPage));
    // Past the last page (the fleet shrank, or a link made by hand): the last page.
    const p = asked.page > last ? { ...asked, page: last } : asked;
    if (p !== asked) result = await nextBoot.fleetPage(fleetQueryOf(p, staleIds, ownedIds));
    const latest = await testing.latestResults(result.machines.map((m) => m.id));

    let count = 0;
    const power = new Map<string, number>();
    const provision = new Map<string, number>();
    const drivers = new Set<string>();
    for (const s of states) {
      count += s.count;
      drivers.add(s.driver);
      power.set(s.power, (power.get(s.power) ?? 0) + s.count);
      provision.set(s.provision, (provision.get(s.provision) ?? 0) + s.count);
    }
    const sumOf = (list: readonly string[]) => list.reduce((n, s) => n + (provision.get(s) ?? 0), 0);
    const clear: Partial<FleetParams> = { q: '', power: '', state: '', driver: '', result: '', owner: '', stale: '', page: 1 };
    const bars: SummaryBar[] = [
      { key: 'on', label: 'on', title: 'Powered on', count: power.get('on') ?? 0, href: fleetHref(p, { ...clear, power: 'on' }) },
      { key: 'off', label: 'off', title: 'Powered off', count: power.get('off') ?? 0, href: fleetHref(p, { ...clear, power: 'off' }) },
      {
        key: 'deploying',
        label: 'deploying',
        title: 'Being deployed, captured or undeployed',
        count: sumOf(TRANSIENT_STATES),
        href: fleetHref(p, { ...clear, state: 'busy' }),
      },
      {
        key: 'failed',
        label: 'failed',
        title: 'Deploy or capture failed, or in error',
        count: sumOf(STATE_GROUPS.failed.states),
        href: fleetHref(p, { ...clear, state: 'failed' }),
      },
      {
        key: 'failing',
        label: 'tests failing',
        title: 'Last test run failed or had errors',
        count: failing.total,
        href: fleetHref(p, { ...clear, result: 'failing' }),
      },
      {
        key: 'stale',
        label: 'stale',
        title: `Stuck: ${Object.values(STALE_WORDS).join(', ')}`,
        count: findings.size,
        href: fleetHref(p, { ...clear, stale: '1' }),
      },
    ];
    const from = result.total === 0 ? 0 : (p.page - 1) * p.perPage + 1;
    const to = (p.page - 1) * p.perPage + result.machines.length;
    const option = (value: string, label = value) => ({ value, label });
    return {
      title: 'Fleet',
      nav: 'fleet',
      live: { page: 'fleet' },
      count,
      countText: thousands(count),
      failing: failing.total,
      summary: summaryChart(bars, count),
      params: p,
      filtered: isFiltered(p),
      showing: { from: thousands(from), to: thousands(to), total: thousands(result.total), none: result.total === 0 },
      here: fleetHref(p),
      headings: headings(p, owner !== undefined),
      pager: pager(p, result.total),
      choices: {
        power: POWER_FILTERS.map((v) => option(v)),
        state: [...Object.entries(STATE_GROUPS).map(([v, g]) => option(v, `— ${g.label}`)), ...PROVISION_STATES.map((v) => option(v))],
        driver: [...drivers].sort().map((v) => option(v)),
        result: RESULT_FILTERS.map((v) => option(v, v === 'failing' ? 'errors or failed' : v)),
        // The live conductors; one asked for that has since died stays choosable (it owns none).
        owner: owner ? [...new Set([...conductors.ring.members, ...(p.owner ? [p.owner] : [])])].sort().map((v) => option(v)) : [],
        perPage: PER_PAGE_CHOICES.map((n) => ({ value: n, label: String(n) })),
      },
      rows: fleetRows(result.machines, latest, { select: viewer.operator, stale: findings, owner }),
      bulk: viewer.operator && {
        actions: BULK_ACTIONS,
        profiles: available,
        tests: tests.filter((t) => t !== WAIT_TEST),
        images: library.map((i) => i.name),
      },
      discovered: found.map((d) => ({
        mac: d.mac,
        arch: d.arch ?? '',
        loader: d.loader ?? '',
        address: d.address ?? '',
        firstSeen: utc(d.first_seen),
        lastSeen: utc(d.last_seen),
        boots: d.boots,
      })),
      discoveredCount,
    };
  });

  bulkRoutes(kit, ctx);
  discoveredForms(kit, ctx);
}

function discoveredForms(kit: Kit, { machines, discovered }: WebContext): void {
  // A discovered machine enrolled from the fleet page: pxemngr addsystem NAME MAC, then its page.
  kit.form('/discovered/:mac/enroll', 'operator', async (request, viewer) => {
    const { machine } = await machines.add(field(request, 'name').trim(), [request.params.mac!]);
    request.log.info({ machine: machine.name, mac: request.params.mac, operator: viewer.name }, 'discovered machine enrolled');
    return { to: machinePath(machine.name), flash: `Enrolled ${machine.name} (${request.params.mac}); it boots ${machine.next_profile} next.` };
  });

  kit.form('/discovered/:mac/forget', 'operator', async (request) => {
    await discovered.forget(request.params.mac!);
    return { to: '/#discovered', flash: `Forgot ${request.params.mac}; it is listed again if it asks to boot.` };
  });
}
