// Bulk actions from the fleet page: power, next boot, a test queued or a deploy on the machines
// an operator selected, each through the service the API and the machine page use (so each
// machine's lock, driver and state rules apply as they do one by one), a few at a time. The
// answer says how many succeeded and which failed and why; every failure is also logged.
import { AnvilError, invalid } from '../common/errors.ts';
import type { PowerRequest } from '../conductor/machine-control.ts';
import type { WebContext } from './context.ts';
import { field, type Kit, type PageRequest } from './kit.ts';
import { fleetBack } from './fleet-query.ts';

/** Machines worked on at once: a BMC each, but the conductor and database are shared. */
export const BULK_CONCURRENCY = 8;
/** The most machines one bulk action takes: the largest page. */
export const BULK_MAX = 1000;
/** The answer's length: room for a few dozen failures with their reasons (the cookie holds about 4 KB). */
export const BULK_FLASH_MAX_CHARS = 1200;

export const BULK_ACTIONS = [
  { value: 'power-on', label: 'Power on' },
  { value: 'power-off', label: 'Power off' },
  { value: 'power-cycle', label: 'Power cycle' },
] as const;

const POWER: Record<string, { target: PowerRequest; what: string }> = {
  'power-on': { target: 'on', what: 'Power on' },
  'power-off': { target: 'off', what: 'Power off' },
  'power-cycle': { target: 'reboot', what: 'Power cycle' },
};

interface Failure {
  readonly name: string;
  readonly why: string;
}

/** Runs `act` on each name, at most `limit` at once; the failures, in the order of `names`. */
export async function eachLimited(
  names: readonly string[],
  limit: number,
  act: (name: string) => Promise<unknown>,
): Promise<Array<{ name: string; error: unknown }>> {
  const errors = new Map<string, unknown>();
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      try {
        await act(name);
      } catch (error) {
        errors.set(name, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, names.length) }, worker));
  return names.filter((n) => errors.has(n)).map((name) => ({ name, error: errors.get(name) }));
}

/** "Power off on 5 machines: 3 done, 2 failed — a: why; b: why", cut to `max` characters with how many more. */
export function bulkAnswer(what: string, count: number, failures: readonly Failure[], max = BULK_FLASH_MAX_CHARS): string {
  const done = count - failures.length;
  const head = `${what} on ${count} machine${count === 1 ? '' : 's'}: ${done} done`;
  if (failures.length === 0) return `${head}.`;
  // Room kept for saying how many more there are.
  const limit = max - 60;
  let text = `${head}, ${failures.length} failed — `;
  let shown = 0;
  for (const f of failures) {
    const part = `${shown > 0 ? '; ' : ''}${f.name}: ${f.why}`;
    if (text.length + part.length > limit) break;
    text += part;
    shown++;
  }
  if (shown < failures.length) text += `${shown > 0 ? '; ' : ''}and ${failures.length - shown} more (the server log lists them)`;
  return `${text}.`;
}

function selected(request: PageRequest): string[] {
  const chosen = request.body?.machine;
  const names = (Array.isArray(chosen) ? chosen : [chosen]).filter((n): n is string => typeof n === 'string' && n !== '');
  return [...new Set(names)];
}

export function bulkRoutes(kit: Kit, { control, nextBoot, testing, machines, provisioner }: WebContext): void {
  kit.form(
    '/fleet/bulk',
    'operator',
    async (request, viewer) => {
      const to = fleetBack(field(request, 'back'));
      const names = selected(request);
      if (names.length === 0) return { to, flash: 'No machine selected: tick the machines in the table first, then choose what to do with them.' };
      if (names.length > BULK_MAX) throw invalid('TOO_MANY_MACHINES', `${names.length} machines selected; a bulk action takes at most ${BULK_MAX}`);
      const by = `operator ${viewer.name} (web, bulk)`;
      const action = field(request, 'action');
      let what: string;
      let act: (name: string) => Promise<unknown>;
      if (POWER[action]) {
        const { target } = POWER[action];
        what = POWER[action].what;
        act = (name) => control.setPower(name, target, {}, by);
      } else if (action === 'next-boot') {
        const profile = field(request, 'profile');
        const once = field(request, 'once') === 'on';
        what = `Next boot ${profile}${once ? ' (once)' : ''}`;
        act = (name) => nextBoot.set(name, profile, { once, reason: by });
      } else if (action === 'test') {
        const test = field(request, 'test');
        what = `Queue ${test}`;
        act = async (name) => testing.queue(await machines.find(name), [test]);
      } else if (action === 'deploy') {
        const image = field(request, 'image');
        what = `Deploy ${image}`;
        act = (name) => provisioner.deploy(name, { image }, by);
      } else {
        throw invalid('INVALID_BULK_ACTION', `bulk action '${action}' is not one of power-on, power-off, power-cycle, next-boot, test, deploy`);
      }
      const errors = await eachLimited(names, BULK_CONCURRENCY, act);
      const failures = errors.map(({ name, error }) => {
        if (error instanceof AnvilError) return { name, why: error.message };
        request.log.error({ err: error, machine: name }, 'bulk action failed');
        return { name, why: 'internal error; see the server log' };
      });
      request.log.info(
        { action, machines: names.length, failed: failures.length, failures: failures.slice(0, 100), operator: viewer.name },
        'bulk action from the fleet page',
      );
      return { to, flash: bulkAnswer(what, names.length, failures) };
    },
    { flashMax: BULK_FLASH_MAX_CHARS },
  );
}
