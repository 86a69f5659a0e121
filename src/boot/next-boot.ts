// The PXE Manager's automaton: each machine's next-boot profile, the once-rule, and the boot
// log of next-boot changes and boots served. pxemngr's `nextboot default` sets the profile of
// machines anvil does not know.
import type { Kysely, Transaction } from 'kysely';
import type { BootLogEntry, Database } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import { durably } from '../store/durable.ts';
import { DEFAULT_SYSTEM, type FleetQuery, type Machine, type Machines, type MachineSummary } from '../machines/machines.ts';
import { MachineChanges } from '../machines/changes.ts';
import { LOCAL_PROFILE, type Profiles } from './profiles.ts';

export type { BootLogEntry } from '../store/schema.ts';

/** Why a next-boot changed or a boot happened; shown in the boot log. */
export type BootReason = 'operator' | 'localboot callback' | 'once-rule' | 'boot served' | 'enrolled' | (string & {});

/** Who asked to boot: the loader, its architecture and source address, as the boot log records them. */
export interface BootAsker {
  readonly loader?: string | undefined;
  readonly arch?: string | undefined;
  readonly address?: string | undefined;
}

/** The setting that records an operator chose the default profile. */
const DEFAULT_SET = 'default_profile_set';

export interface LastBoot {
  readonly at: string;
  readonly profile: string;
}

/** A machine as the fleet shows it: the entity's summary and its last boot. */
export interface FleetMachine extends MachineSummary {
  readonly lastBoot: LastBoot | undefined;
}

export class NextBoot {
  readonly #db: Kysely<Database>;
  readonly #machines: Machines;
  readonly #profiles: Profiles;
  readonly #clock: Clock;
  readonly #changes: MachineChanges;

  constructor(db: Kysely<Database>, machines: Machines, profiles: Profiles, clock: Clock, changes = new MachineChanges()) {
    this.#changes = changes;
    this.#db = db;
    this.#machines = machines;
    this.#profiles = profiles;
    this.#clock = clock;
  }

  /** pxemngr nextboot: what the machine (or, for 'default', every unknown machine) boots next. */
  async set(nameOrMac: string, profile: string, options: { once?: boolean; reason?: BootReason } = {}): Promise<void> {
    await this.#profiles.assertKnown(profile);
    if (nameOrMac === DEFAULT_SYSTEM) {
      await durably(this.#db, async (trx) => {
        await trx.updateTable('settings').set({ value: profile }).where('key', '=', 'default_profile').execute();
        // Said by an operator, even 'local': from now on unknown machines boot it (pxemngr's default).
        await trx
          .insertInto('settings')
          .values({ key: DEFAULT_SET, value: '1' })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: '1' }))
          .execute();
      });
      return;
    }
    const machine = await this.#machines.find(nameOrMac);
    await this.#setNext(machine, profile, options.once === true && profile !== LOCAL_PROFILE, options.reason ?? 'operator');
  }

  /** The profile of machines anvil does not know. */
  async defaultProfile(): Promise<string> {
    return (await this.defaultChoice()).profile;
  }

  /** The default profile, and whether an operator set it (`nextboot default …`) or it is the built-in local. */
  async defaultChoice(): Promise<{ profile: string; set: boolean }> {
    const rows = await this.#db.selectFrom('settings').select(['key', 'value']).where('key', 'in', ['default_profile', DEFAULT_SET]).execute();
    const value = (key: string) => rows.find((r) => r.key === key)?.value;
    return { profile: value('default_profile') ?? LOCAL_PROFILE, set: value(DEFAULT_SET) === '1' };
  }

  /** /localboot/: the installer or test is done; boot the local disk from now on. */
  async localBoot(machine: Machine, reason: BootReason = 'localboot callback'): Promise<void> {
    await this.#setNext(machine, LOCAL_PROFILE, false, reason);
  }

  async #setNext(machine: Machine, profile: string, once: boolean, reason: BootReason): Promise<void> {
    const now = stamp(this.#clock);
    await durably(this.#db, async (trx) => {
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
    this.#changes.publish({ machineId: machine.id, topic: 'next-boot' });
  }

  /**
   * A machine's loader is being answered: records the boot and applies the once-rule (a
   * `--once` profile falls back to `local` after one boot is served). Returns the machine as
   * read in the same transaction and the profile this boot gets.
   */
  async serve(machine: Machine, asker: BootAsker = {}): Promise<{ machine: Machine; profile: string }> {
    const now = stamp(this.#clock);
    // A boot that consumes a once-rule is durable: lost to a power loss, the machine would boot
    // its --once profile (an installer) again. Other boots are only logged, at NORMAL. The flag
    // is the one just read; a once-rule set meanwhile is consumed all the same, one fsync short.
    const record = async (trx: Transaction<Database>) => {
      const current = await trx.selectFrom('machines').selectAll().where('id', '=', machine.id).executeTakeFirstOrThrow();
      await trx
        .insertInto('boot_log')
        .values({
          machine_id: current.id,
          at: now,
          kind: 'boot',
          profile: current.next_profile,
          reason: 'boot served',
          loader: asker.loader ?? null,
          arch: asker.arch ?? null,
          address: asker.address ?? null,
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
    };
    const served = machine.next_once === 1 ? await durably(this.#db, record) : await this.#db.transaction().execute(record);
    this.#changes.publish({ machineId: machine.id, topic: 'boot' });
    return served;
  }

  /** Records a boot served something other than the next-boot profile (the deploy agent); no once-rule. */
  async logBoot(machine: Pick<Machine, 'id'>, what: string, asker: BootAsker = {}): Promise<void> {
    await this.#db
      .insertInto('boot_log')
      .values({
        machine_id: machine.id,
        at: stamp(this.#clock),
        kind: 'boot',
        profile: what,
        reason: 'boot served',
        loader: asker.loader ?? null,
        arch: asker.arch ?? null,
        address: asker.address ?? null,
      })
      .execute();
    this.#changes.publish({ machineId: machine.id, topic: 'boot' });
  }

  async log(machineId: number, limit = 100, offset = 0): Promise<BootLogEntry[]> {
    return this.#db.selectFrom('boot_log').selectAll().where('machine_id', '=', machineId).orderBy('id', 'desc').limit(limit).offset(offset).execute();
  }

  /** Each machine's last boot served (or just one machine's, or these machines'), by machine id: one query for the fleet. */
  async lastBoots(only?: number | readonly number[]): Promise<Map<number, LastBoot>> {
    if (Array.isArray(only) && only.length === 0) return new Map();
    let latest = this.#db
      .selectFrom('boot_log')
      .select((e) => e.fn.max('id').as('id'))
      .where('kind', '=', 'boot')
      .groupBy('machine_id');
    if (typeof only === 'number') latest = latest.where('machine_id', '=', only);
    else if (only !== undefined) latest = latest.where('machine_id', 'in', [...only]);
    const rows = await this.#db.selectFrom('boot_log as b').select(['b.machine_id', 'b.at', 'b.profile']).where('b.id', 'in', latest).execute();
    return new Map(rows.map((b) => [b.machine_id, { at: b.at, profile: b.profile }]));
  }

  /** Every machine (or one, by id) with its last boot, in name order: three queries for the whole fleet. */
  async fleet(onlyId?: number): Promise<FleetMachine[]> {
    const [machines, boots] = await Promise.all([this.#machines.list(onlyId), this.lastBoots(onlyId)]);
    return machines.map((m) => ({ ...m, lastBoot: boots.get(m.id) }));
  }

  /** One page of the fleet (Machines.search) with each machine's last boot, and how many machines match. */
  async fleetPage(query: FleetQuery): Promise<{ total: number; machines: FleetMachine[] }> {
    const { total, machines } = await this.#machines.search(query);
    const boots = await this.lastBoots(machines.map((m) => m.id));
    return { total, machines: machines.map((m) => ({ ...m, lastBoot: boots.get(m.id) })) };
  }

  /** Boots served, by the loader that asked (pxelinux, ipxe, grub; '' when unknown): for metrics. */
  async bootsByLoader(): Promise<Array<{ loader: string; count: number }>> {
    const rows = await this.#db
      .selectFrom('boot_log')
      .select(['loader', (eb) => eb.fn.countAll<number>().as('n')])
      .where('kind', '=', 'boot')
      .groupBy('loader')
      .execute();
    return rows.map((r) => ({ loader: r.loader ?? '', count: Number(r.n) }));
  }
}
