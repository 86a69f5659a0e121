// The machine entity: a name, its MAC addresses, its driver and states. Every part that acts
// on machines (boot answers, test runs, the conductor, provisioning) finds them here. The
// database is the only state: pxemngr's commands and a running server see each other's
// changes at once.
import type { Kysely } from 'kysely';
import type { Database, Machine } from '../store/schema.ts';
import { AnvilError, invalid, notFound } from '../common/errors.ts';
import { stamp, type Clock } from '../store/store.ts';
import { normalizeMac, parseMac } from './mac.ts';
import { searchFleet, type FleetQuery } from './fleet-search.ts';
import { timelinePage, TIMELINE_PAGE, type TimelinePage } from './timeline.ts';

export type { FleetFilter, FleetQuery, FleetSort, ResultOutcome } from './fleet-search.ts';

export type { Machine } from '../store/schema.ts';
export { TIMELINE_PAGE, TIMELINE_MAX_PAGE, type TimelineEntry, type TimelinePage } from './timeline.ts';

/** Machine names: what pxemngr accepted as a system name, and safe in URLs and file names. */
export const MACHINE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** pxemngr's `nextboot default …` names the machines anvil does not know: no machine may be called that. */
export const DEFAULT_SYSTEM = 'default';

/** What the fleet page, `dpysystem -l` and GET /machines show of each machine. */
export interface MachineSummary {
  readonly id: number;
  readonly name: string;
  readonly macs: string[];
  readonly nextProfile: string;
  readonly nextOnce: boolean;
  readonly version: string | null;
  readonly powerState: string;
  readonly provisionState: string;
  readonly driver: string;
}

export class Machines {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  /** pxemngr addsystem: a new machine with its MACs, or more MACs for an existing one. Enrolled MACs leave the discovered list. */
  async add(name: string, macTexts: readonly string[]): Promise<{ machine: Machine; created: boolean; added: string[] }> {
    if (name === DEFAULT_SYSTEM) throw invalid('RESERVED_NAME', `'${DEFAULT_SYSTEM}' is reserved for the profile of unknown machines; choose another name`);
    if (!MACHINE_NAME.test(name))
      throw invalid('INVALID_NAME', `'${name}' is not a valid machine name: use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    if (macTexts.length === 0) throw invalid('MAC_REQUIRED', `give at least one MAC address for '${name}'`);
    const macs = [...new Set(macTexts.map(normalizeMac))];
    // The group bit of the first octet: no NIC has a broadcast or multicast address as its own.
    const group = macs.find((m) => (Number.parseInt(m.slice(0, 2), 16) & 1) === 1);
    if (group) {
      throw invalid(
        'MAC_NOT_UNICAST',
        `${group} is ${group === 'ff:ff:ff:ff:ff:ff' ? 'the broadcast' : 'a multicast'} address, which no network card has as its own; give the machine's MAC`,
      );
    }
    const now = stamp(this.#clock);
    return this.#db.transaction().execute(async (trx) => {
      const owners = await trx
        .selectFrom('macs')
        .innerJoin('machines', 'machines.id', 'macs.machine_id')
        .select(['macs.mac', 'machines.name'])
        .where('macs.mac', 'in', macs)
        .execute();
      const taken = owners.filter((o) => o.name !== name);
      if (taken.length > 0) {
        throw new AnvilError(
          'MAC_IN_USE',
          'conflict',
          taken.map((o) => `MAC ${o.mac} already belongs to machine '${o.name}'`).join('; ') +
            `; a MAC belongs to one machine (see pxemngr dpysystem ${taken[0]!.name})`,
        );
      }
      let machine = await trx.selectFrom('machines').selectAll().where('name', '=', name).executeTakeFirst();
      const created = machine === undefined;
      if (!machine) {
        machine = await trx.insertInto('machines').values({ name, created_at: now, updated_at: now }).returningAll().executeTakeFirstOrThrow();
      }
      const mine = new Set(owners.map((o) => o.mac));
      const added = macs.filter((m) => !mine.has(m));
      for (const mac of added) await trx.insertInto('macs').values({ mac, machine_id: machine.id }).execute();
      if (added.length > 0) await trx.deleteFrom('discovered').where('mac', 'in', added).execute();
      return { machine, created, added };
    });
  }

  /** pxemngr delsystem. */
  async remove(name: string): Promise<void> {
    const result = await this.#db.deleteFrom('machines').where('name', '=', name).executeTakeFirst();
    if (result.numDeletedRows === 0n) throw await this.#unknown(name);
  }

  async byId(id: number): Promise<Machine | undefined> {
    return this.#db.selectFrom('machines').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async byName(name: string): Promise<Machine | undefined> {
    return this.#db.selectFrom('machines').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async byMac(mac: string): Promise<Machine | undefined> {
    return this.#db
      .selectFrom('machines')
      .selectAll()
      .where('id', '=', (eb) => eb.selectFrom('macs').select('machine_id').where('mac', '=', mac))
      .executeTakeFirst();
  }

  /** A machine by name or by any notation of one of its MACs; a clear error when there is none. */
  async find(nameOrMac: string): Promise<Machine> {
    const byName = await this.byName(nameOrMac);
    if (byName) return byName;
    const mac = parseMac(nameOrMac);
    const byMac = mac ? await this.byMac(mac) : undefined;
    if (byMac) return byMac;
    throw await this.#unknown(nameOrMac, mac);
  }

  async #unknown(what: string, mac?: string): Promise<AnvilError> {
    const hint = (await this.count()) === 0 ? 'no machines are enrolled yet (pxemngr addsystem NAME MAC)' : 'see pxemngr dpysystem -l for the list';
    return notFound('UNKNOWN_MACHINE', `no machine ${mac ? `with MAC ${mac}` : `named '${what}'`}; ${hint}`);
  }

  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom('machines')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async macsOf(machineId: number): Promise<string[]> {
    const rows = await this.#db.selectFrom('macs').select('mac').where('machine_id', '=', machineId).orderBy('mac').execute();
    return rows.map((r) => r.mac);
  }

  /** Every machine (or just one, by id) in name order: two queries for the whole fleet. */
  async list(onlyId?: number): Promise<MachineSummary[]> {
    return this.#summaries(onlyId === undefined ? undefined : [onlyId]);
  }

  /** One page of the fleet, searched, filtered and sorted in SQL (fleet-search.ts), and how many match. */
  async search(query: FleetQuery): Promise<{ total: number; machines: MachineSummary[] }> {
    const { total, ids } = await searchFleet(this.#db, query);
    if (ids.length === 0) return { total, machines: [] };
    const byId = new Map((await this.#summaries(ids)).map((m) => [m.id, m]));
    return { total, machines: ids.flatMap((id) => byId.get(id) ?? []) };
  }

  /** Summaries of these machines (all when undefined), in name order. */
  async #summaries(ids: readonly number[] | undefined): Promise<MachineSummary[]> {
    let machinesQuery = this.#db.selectFrom('machines').selectAll().orderBy('name');
    let macsQuery = this.#db.selectFrom('macs').select(['mac', 'machine_id']).orderBy('mac');
    if (ids !== undefined) {
      machinesQuery = machinesQuery.where('id', 'in', [...ids]);
      macsQuery = macsQuery.where('machine_id', 'in', [...ids]);
    }
    const [machines, macs] = await Promise.all([machinesQuery.execute(), macsQuery.execute()]);
    const macsBy = new Map<number, string[]>();
    for (const m of macs) {
      const list = macsBy.get(m.machine_id);
      if (list) list.push(m.mac);
      else macsBy.set(m.machine_id, [m.mac]);
    }
    return machines.map((m) => ({
      id: m.id,
      name: m.name,
      macs: macsBy.get(m.id) ?? [],
      nextProfile: m.next_profile,
      nextOnce: m.next_once === 1,
      version: m.version,
      powerState: m.power_state,
      provisionState: m.provision_state,
      driver: m.driver,
    }));
  }

  /** How many machines have each power state, provision state and driver: the fleet page's strip and filters, one scan. */
  async tally(): Promise<Array<{ power: string; provision: string; driver: string; count: number }>> {
    const rows = await this.#db
      .selectFrom('machines')
      .select(['power_state', 'provision_state', 'driver', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['power_state', 'provision_state', 'driver'])
      .execute();
    return rows.map((r) => ({ power: r.power_state, provision: r.provision_state, driver: r.driver, count: Number(r.n) }));
  }

  /** How many machines are in each power and provision state (for metrics and the fleet's summary). */
  async countByState(): Promise<Array<{ power: string; provision: string; count: number }>> {
    const rows = await this.#db
      .selectFrom('machines')
      .select(['power_state', 'provision_state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['power_state', 'provision_state'])
      .execute();
    return rows.map((r) => ({ power: r.power_state, provision: r.provision_state, count: Number(r.n) }));
  }

  /** One page of a machine's boots, runs and events merged, newest first (the machine page). */
  timeline(machineId: number, limit = TIMELINE_PAGE, offset = 0): Promise<TimelinePage> {
    return timelinePage(this.#db, machineId, limit, offset);
  }
}
