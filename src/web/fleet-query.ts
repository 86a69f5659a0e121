// The fleet page's query string: what an operator searched, filtered, sorted and which page,
// read and checked here (a bad value is a 400 that says what is allowed), turned into the
// machines' search and back into links that keep everything else as it was.
import { invalid, listWords } from '../common/errors.ts';
import {
  FLEET_SORTS,
  RESULT_OUTCOMES,
  SEARCH_MAX_CHARS,
  type FleetFilter,
  type FleetQuery,
  type FleetSort,
  type ResultOutcome,
} from '../machines/fleet-search.ts';
import { PROVISION_STATES, TRANSIENT_STATES } from '../provisioning/states.ts';

/** Rows per page an operator can choose; the first page shows PER_PAGE_DEFAULT. */
export const PER_PAGE_CHOICES = [25, 50, 100, 250, 500, 1000] as const;
export const PER_PAGE_DEFAULT = 100;

/** The power states drivers report. */
export const POWER_FILTERS = ['on', 'off', 'unknown'] as const;

/** Provision states by group: anvil at work on the machine, or a step that failed. */
export const STATE_GROUPS = {
  busy: { label: 'any in progress', states: TRANSIENT_STATES },
  failed: { label: 'any failed', states: ['deploy-failed', 'capture-failed', 'error'] },
} as const satisfies Record<string, { label: string; states: readonly string[] }>;

/** Last results by group: 'failing' is a run with errors or one that failed. */
export const RESULT_FILTERS = [...RESULT_OUTCOMES, 'failing'] as const;
const FAILING: readonly ResultOutcome[] = ['errors', 'failed'];

const DRIVER = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** A conductor's id: host name, pid and a random part (conductor/conductors.ts), joined by ':'. */
const OWNER = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$/;

/** The page's parameters, each as given (or its default), in the order links write them. */
export interface FleetParams {
  readonly q: string;
  readonly power: string;
  readonly state: string;
  readonly driver: string;
  readonly result: string;
  /** A conductor's id: the machines the hash ring gives it. */
  readonly owner: string;
  /** '1': only machines that look stuck (conductor/stale.ts). */
  readonly stale: string;
  readonly sort: FleetSort;
  readonly dir: 'asc' | 'desc';
  readonly page: number;
  readonly perPage: number;
}

export const FLEET_DEFAULTS: FleetParams = {
  q: '',
  power: '',
  state: '',
  driver: '',
  result: '',
  owner: '',
  stale: '',
  sort: 'name',
  dir: 'asc',
  page: 1,
  perPage: PER_PAGE_DEFAULT,
};

const NAMES: Record<keyof FleetParams, string> = {
  q: 'q',
  power: 'power',
  state: 'state',
  driver: 'driver',
  result: 'result',
  owner: 'owner',
  stale: 'stale',
  sort: 'sort',
  dir: 'dir',
  page: 'page',
  perPage: 'per-page',
};

function oneOf(name: string, value: string, allowed: readonly string[]): string {
  if (value !== '' && !allowed.includes(value)) throw invalid('INVALID_FLEET_QUERY', `${name}=${value} is not one of ${listWords(allowed)}`);
  return value;
}

function count(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw invalid('INVALID_FLEET_QUERY', `${name}=${value} is not a whole number from 1`);
  return Number(value);
}

/** The page's parameters from its query string; a clear error for a value that is not allowed. */
export function parseFleetParams(query: Record<string, string | string[] | undefined>): FleetParams {
  const get = (key: keyof FleetParams) => {
    const value = query[NAMES[key]];
    return (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
  };
  const q = get('q');
  if (q.length > SEARCH_MAX_CHARS) throw invalid('INVALID_FLEET_QUERY', `the search is ${q.length} characters; names and MACs are at most ${SEARCH_MAX_CHARS}`);
  const driver = get('driver');
  if (driver !== '' && !DRIVER.test(driver)) throw invalid('INVALID_FLEET_QUERY', `driver=${driver} is not a driver name (letters, digits, '-' and '_')`);
  const owner = get('owner');
  if (owner !== '' && !OWNER.test(owner))
    throw invalid('INVALID_FLEET_QUERY', `owner=${owner} is not a conductor id (host:pid:id, as anvil conductor list shows)`);
  const perPage = count('per-page', get('perPage'), PER_PAGE_DEFAULT);
  if (!(PER_PAGE_CHOICES as readonly number[]).includes(perPage))
    throw invalid('INVALID_FLEET_QUERY', `per-page=${perPage} is not one of ${PER_PAGE_CHOICES.join(', ')}`);
  return {
    q,
    power: oneOf('power', get('power'), POWER_FILTERS),
    state: oneOf('state', get('state'), [...PROVISION_STATES, ...Object.keys(STATE_GROUPS)]),
    driver,
    result: oneOf('result', get('result'), RESULT_FILTERS),
    owner,
    stale: oneOf('stale', get('stale'), ['1']),
    sort: (oneOf('sort', get('sort'), FLEET_SORTS) || 'name') as FleetSort,
    dir: (oneOf('dir', get('dir'), ['asc', 'desc']) || 'asc') as 'asc' | 'desc',
    page: count('page', get('page'), 1),
    perPage,
  };
}

/** True when anything narrows the fleet (so the page says "of N matching"). */
export function isFiltered(p: FleetParams): boolean {
  return p.q !== '' || p.power !== '' || p.state !== '' || p.driver !== '' || p.result !== '' || p.owner !== '' || p.stale !== '';
}

/**
 * The machines' search for these parameters; `staleIds` are the machines that look stuck, used
 * when stale=1, and `ownedIds` those the owner asked for has (owner=), or 'all' when it has
 * every machine; both are given only then.
 */
export function fleetQueryOf(p: FleetParams, staleIds: readonly number[], ownedIds?: readonly number[] | 'all'): FleetQuery {
  let ids: readonly number[] | undefined = p.stale === '1' ? staleIds : undefined;
  // 'all': the owner has the whole fleet (the one conductor), so no list of every id to match.
  if (p.owner !== '' && ownedIds !== 'all') {
    const owned = ownedIds ?? [];
    if (ids === undefined) ids = owned;
    else {
      const mine = new Set(owned);
      ids = ids.filter((id) => mine.has(id));
    }
  }
  const group = STATE_GROUPS[p.state as keyof typeof STATE_GROUPS];
  const filter: FleetFilter = {
    text: p.q || undefined,
    power: p.power ? [p.power] : undefined,
    provision: group ? group.states : p.state ? [p.state] : undefined,
    driver: p.driver ? [p.driver] : undefined,
    result: p.result === 'failing' ? FAILING : p.result ? [p.result as ResultOutcome] : undefined,
    ids,
  };
  return { filter, sort: p.sort, descending: p.dir === 'desc', offset: (p.page - 1) * p.perPage, limit: p.perPage };
}

/** The fleet page's URL for these parameters with `change` applied; defaults are left out. */
export function fleetHref(p: FleetParams, change: Partial<FleetParams> = {}): string {
  const next = { ...p, ...change };
  const search = new URLSearchParams();
  for (const key of Object.keys(NAMES) as Array<keyof FleetParams>) {
    if (next[key] !== FLEET_DEFAULTS[key]) search.set(NAMES[key], String(next[key]));
  }
  const text = search.toString();
  return text ? `/?${text}` : '/';
}

/** Only a link to the fleet page itself is a place a fleet form may lead back to. */
export function fleetBack(value: string): string {
  if (value === '/' || /^\/\?[A-Za-z0-9%._~=&+-]*$/.test(value)) return value;
  return '/';
}
