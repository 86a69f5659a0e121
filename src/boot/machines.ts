// Machines, their MAC addresses, their next-boot profile and their boot log: the PXE
// Manager's automaton. The database is the only state: pxemngr's commands and a running
// server see each other's changes at once.
import type { Kysely } from 'kysely';
import type { BootLogEntry, Database, Discovered, Machine } from '../store/schema.ts';
import { AnvilError, invalid, notFound } from '../common/errors.ts';
import { stamp, type Clock } from '../store/store.ts';
import { normalizeMac, parseMac } from './mac.ts';
import { LOCAL_PROFILE, type Profiles } from './profiles.ts';

/** Machine names: what pxemngr accepted as a system name, and safe in URLs and file names. */
export const MACHINE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** `nextboot default …` sets the profile of machines anvil does not know. */
export const DEFAULT_SYSTEM = 'default';

/** Why a next-boot changed or a boot happened; shown in the boot log. */
export type BootReason = 'operator' | 'localboot callback' | 'once-rule' | 'boot served' | 'enrolled' | (string & {});

export interface MachineSummary {
  readonly name: string;
  readonly macs: string[];
  readonly nextProfile: string;
  readonly nextOnce: boolean;
  readonly lastBoot: { at: string; profile: string } | undefined;
  readonly version: string | null;
  readonly powerState: string;
  readonly driver: string;
}

export interface BootServed {
  readonly machine: Machine;
  /** The profile to render for this boot. */
  readonly profile: string;
}

export interface ServeBootInfo {
  loader?: string | undefined;
  arch?: string | undefined;
  address?: string | undefined;
}

export class Machines {
  readonly #db: Kysely<Database>;
  readonly #profiles: Profiles;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, profiles: Profiles, clock: Clock) {
    this.#db = db;
    this.#profiles = profiles;
    this.#clock = clock;
  }

  /** pxemngr addsystem: a new machine with its MACs, or more MACs for an existing one. */
  async add(name: string, macTexts: readonly string[]): Promise<{ machine: Machine; created: boolean; added: string[] }> {
    if (name === DEFAULT_SYSTEM) throw invalid('RESERVED_NAME', `'${DEFAULT_SYSTEM}' is reserved for the profile of unknown machines; choose another name`);
    if (!MACHINE_NAME.test(name))
      throw invalid('INVALID_NAME', `'${name}' is not a valid machine name: use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    if (macTexts.length === 0) throw invalid('MAC_REQUIRED', `give at least one MAC address for '${name}'`);
    const macs = [...new Set(macTexts.map(normalizeMac))];
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
    const count = await this.#db
      .selectFrom('machines')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const hint = Number(count.n) === 0 ? 'no machines are enrolled yet (pxemngr addsystem NAME MAC)' : 'see pxemngr dpysystem -l for the list';
    return notFound('UNKNOWN_MACHINE', `no machine ${mac ? `with MAC ${mac}` : `named '${what}'`}; ${hint}`);
  }

  async macsOf(machineId: number): Promise<string[]> {
    const rows = await this.#db.selectFrom('macs').select('mac').where('machine_id', '=', machineId).orderBy('mac').execute();
    return rows.map((r) => r.mac);
  }

  /** Every machine (or just one, by id) with what the fleet page and `dpysystem -l` show, in name order. */
  async list(onlyId?: number): Promise<MachineSummary[]> {
    let machinesQuery = this.#db.selectFrom('machines').selectAll().orderBy('name');
    let macsQuery = this.#db.selectFrom('macs').select(['mac', 'machine_id']).orderBy('mac');
    let bootsQuery = this.#db
      .selectFrom('boot_log')
      .select((e) => e.fn.max('id').as('id'))
      .where('kind', '=', 'boot')
      .groupBy('machine_id');
    if (onlyId !== undefined) {
      machinesQuery = machinesQuery.where('id', '=', onlyId);
      macsQuery = macsQuery.where('machine_id', '=', onlyId);
      bootsQuery = bootsQuery.where('machine_id', '=', onlyId);
    }
    const machines = await machinesQuery.execute();
    const macs = await macsQuery.execute();
    const lastBoots = await this.#db.selectFrom('boot_log as b').select(['b.machine_id', 'b.at', 'b.profile']).where('b.id', 'in', bootsQuery).execute();
    const macsBy = new Map<number, string[]>();
    for (const m of macs) macsBy.set(m.machine_id, [...(macsBy.get(m.machine_id) ?? []), m.mac]);
    const bootBy = new Map(lastBoots.map((b) => [b.machine_id, { at: b.at, profile: b.profile }]));
    return machines.map((m) => ({
      name: m.name,
      macs: macsBy.get(m.id) ?? [],
      nextProfile: m.next_profile,
      nextOnce: m.next_once === 1,
      lastBoot: bootBy.get(m.id),
      version: m.version,
      powerState: m.power_state,
      driver: m.driver,
    }));
  }

  /** pxemngr nextboot: what the machine (or, for 'default', every unknown machine) boots next. */
  async setNextBoot(nameOrMac: string, profile: string, options: { once?: boolean; reason?: BootReason } = {}): Promise<void> {
    await this.#profiles.assertKnown(profile);
    if (nameOrMac === DEFAULT_SYSTEM) {
      await this.#db.updateTable('settings').set({ value: profile }).where('key', '=', 'default_profile').execute();
      return;
    }
    const machine = await this.find(nameOrMac);
    await this.#setNext(machine, profile, options.once === true && profile !== LOCAL_PROFILE, options.reason ?? 'operator');
  }

  async defaultProfile(): Promise<string> {
    const row = await this.#db.selectFrom('settings').select('value').where('key', '=', 'default_profile').executeTakeFirst();
    return row?.value ?? LOCAL_PROFILE;
  }

  /** /localboot/: the installer or test is done; boot the local disk from now on. */
  async localBoot(machine: Machine, reason: BootReason = 'localboot callback'): Promise<void> {
    await this.#setNext(machine, LOCAL_PROFILE, false, reason);
  }

  async #setNext(machine: Machine, profile: string, once: boolean, reason: BootReason): Promise<void> {
    const now = stamp(this.#clock);
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable('machines')
        .set({ next_profile: profile, next_once: once ? 1 : 0, updated_at: now })
        .where('id', '=', machine.id)
        .execute();
      await trx
        .insertInto('boot_log')
        .values({
          machine_id: machine.id,
          at: now,
          kind: 'nextboot',
          profile,
          reason: once ? `${reason} (once)` : reason,
          loader: null,
          arch: null,
          address: null,
        })
        .execute();
    });
  }

  /**
   * A machine's loader asked what to boot: records the boot and applies the once-rule
   * (a `--once` profile falls back to `local` after one boot is served).
   */
  async serveBoot(machine: Machine, info: ServeBootInfo = {}): Promise<BootServed> {
    const now = stamp(this.#clock);
    return this.#db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom('machines').selectAll().where('id', '=', machine.id).executeTakeFirstOrThrow();
      await trx
        .insertInto('boot_log')
        .values({
          machine_id: current.id,
          at: now,
          kind: 'boot',
          profile: current.next_profile,
          reason: 'boot served',
          loader: info.loader ?? null,
          arch: info.arch ?? null,
          address: info.address ?? null,
        })
        .execute();
      if (current.next_once === 1) {
        await trx.updateTable('machines').set({ next_profile: LOCAL_PROFILE, next_once: 0, updated_at: now }).where('id', '=', current.id).execute();
        await trx
          .insertInto('boot_log')
          .values({ machine_id: current.id, at: now, kind: 'nextboot', profile: LOCAL_PROFILE, reason: 'once-rule', loader: null, arch: null, address: null })
          .execute();
      }
      return { machine: current, profile: current.next_profile };
    });
  }

  /** A MAC anvil does not know asked to boot: list it as discovered (first and last seen). */
  async discover(mac: string, info: ServeBootInfo): Promise<void> {
    const now = stamp(this.#clock);
    const seen = await this.#db
      .updateTable('discovered')
      .set((eb) => ({ last_seen: now, boots: eb('boots', '+', 1), arch: info.arch ?? null, loader: info.loader ?? null, address: info.address ?? null }))
      .where('mac', '=', mac)
      .executeTakeFirst();
    if (seen.numUpdatedRows === 0n) {
      await this.#db
        .insertInto('discovered')
        .values({ mac, arch: info.arch ?? null, loader: info.loader ?? null, address: info.address ?? null, first_seen: now, last_seen: now })
        .onConflict((oc) => oc.column('mac').doUpdateSet({ last_seen: now }))
        .execute();
    }
  }

  /** Machines seen booting that anvil does not know, most recently seen first. */
  async discovered(limit?: number): Promise<Discovered[]> {
    const query = this.#db.selectFrom('discovered').selectAll().orderBy('last_seen', 'desc').orderBy('mac');
    return (limit === undefined ? query : query.limit(limit)).execute();
  }

  /** How many discovered machines there are (the fleet page shows the newest only). */
  async discoveredCount(): Promise<number> {
    const row = await this.#db
      .selectFrom('discovered')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Drops a discovered MAC (it will come back if it boots again). False when it was not listed. */
  async forgetDiscovered(mac: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('discovered').where('mac', '=', normalizeMac(mac)).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async bootLog(machineId: number, limit = 100): Promise<BootLogEntry[]> {
    return this.#db.selectFrom('boot_log').selectAll().where('machine_id', '=', machineId).orderBy('id', 'desc').limit(limit).execute();
  }
}
