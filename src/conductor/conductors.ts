// Conductors (Ironic's conductor table and hash ring): each `anvil serve` registers a row and
// heartbeats into it; a conductor whose heartbeat is older than the dead-after timeout is
// dead. Machines are shared among the live conductors by a consistent hash ring over their ids
// (hash-ring.ts), rebuilt at each heartbeat, so when one dies the survivors own its machines
// from their next heartbeat on. On SQLite there is one process and it owns every machine.
//
// Liveness is judged by the judging process's clock against the heartbeat the other wrote
// with its own, as Ironic does: hosts sharing a database keep their clocks in step (NTP).
//
// While the database is away nobody can heartbeat, so when it is back every other heartbeat
// looks older than the timeout. A conductor whose own heartbeat failed therefore judges, for
// one dead-after period once it succeeds again, by what it last saw before the outage: the
// others get that long to write theirs, and meanwhile none of them loses its machines or locks
// for the outage. One that died during the outage is dead at the end of that period.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import { HashRing, DEFAULT_VIRTUAL_NODES } from './hash-ring.ts';

export const CONDUCTOR_DEFAULTS = {
  /** Ironic's heartbeat_interval. */
  heartbeatMs: 10_000,
  /** A conductor is dead after this many heartbeats missed. */
  deadAfterHeartbeats: 3,
  /** A dead conductor's row (kept so `conductor list` shows the crash) is removed after this long. */
  forgetAfterMs: 24 * 3_600_000,
} as const;

export interface ConductorOptions {
  readonly heartbeatMs?: number;
  /** Default: deadAfterHeartbeats × heartbeatMs. */
  readonly deadAfterMs?: number;
  readonly virtualNodes?: number;
  /**
   * Every machine is this conductor's whatever the ring says: SQLite, where one process
   * serves the data directory.
   */
  readonly ownsAll?: boolean;
}

export interface ConductorInfo {
  readonly id: string;
  readonly hostname: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly heartbeatAt: string;
  /** Milliseconds since its last heartbeat, by this process's clock. */
  readonly heartbeatAgeMs: number;
  readonly alive: boolean;
  /** Machines the ring of live conductors gives it (0 when dead). */
  readonly machines: number;
}

export interface ConductorLog {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

export class Conductors {
  readonly heartbeatMs: number;
  readonly deadAfterMs: number;
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #virtualNodes: number;
  readonly #ownsAll: boolean;
  #id: string | undefined;
  #ring: HashRing = new HashRing([]);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #beating: Promise<unknown> | undefined;
  #stopped = false;
  #stopping: Promise<void> | undefined;
  /** When (ms, this clock) this conductor's heartbeat last succeeded. */
  #lastBeat: number | undefined;
  /** The last success before the heartbeats started failing: the database has been away since about then. */
  #awaySince: number | undefined;
  /** After an outage: until `until`, a conductor whose heartbeat is at or after `cutoff` is alive. */
  #grace: { until: number; cutoff: number } | undefined;

  constructor(db: Kysely<Database>, clock: Clock, options: ConductorOptions = {}) {
    this.#db = db;
    this.#clock = clock;
    this.heartbeatMs = options.heartbeatMs ?? CONDUCTOR_DEFAULTS.heartbeatMs;
    this.deadAfterMs = options.deadAfterMs ?? CONDUCTOR_DEFAULTS.deadAfterHeartbeats * this.heartbeatMs;
    if (!(this.heartbeatMs > 0)) throw new RangeError(`the conductor heartbeat must be a positive number of ms, not ${this.heartbeatMs}`);
    if (!(this.deadAfterMs > this.heartbeatMs))
      throw new RangeError(`a conductor must be declared dead only after more than one heartbeat (${this.heartbeatMs} ms), not after ${this.deadAfterMs} ms`);
    this.#virtualNodes = options.virtualNodes ?? DEFAULT_VIRTUAL_NODES;
    this.#ownsAll = options.ownsAll ?? false;
  }

  /** This process's conductor id, once registered; locks it takes carry it. */
  get id(): string | undefined {
    return this.#id;
  }

  /** The ring as of the last heartbeat. */
  get ring(): HashRing {
    return this.#ring;
  }

  /** Adds this process's row (host, pid, a random part so a reused pid is another conductor) and builds the ring. */
  async register(): Promise<string> {
    const id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const now = stamp(this.#clock);
    await this.#db.insertInto('conductors').values({ id, hostname: hostname(), pid: process.pid, started_at: now, heartbeat_at: now }).execute();
    this.#id = id;
    await this.refresh();
    return id;
  }

  /** Writes the heartbeat (again a row, if another process removed ours) and rebuilds the ring. */
  async heartbeat(): Promise<void> {
    const id = this.#id;
    if (id === undefined) throw new Error('heartbeat before register()');
    const started = this.#clock().getTime();
    try {
      const now = stamp(this.#clock);
      const updated = await this.#db.updateTable('conductors').set({ heartbeat_at: now }).where('id', '=', id).executeTakeFirst();
      if (updated.numUpdatedRows === 0n)
        await this.#db.insertInto('conductors').values({ id, hostname: hostname(), pid: process.pid, started_at: now, heartbeat_at: now }).execute();
      // A row gone is as dead as an old one (isDead), so forgetting it frees nothing it held.
      const forget = new Date(this.#clock().getTime() - Math.max(CONDUCTOR_DEFAULTS.forgetAfterMs, this.deadAfterMs)).toISOString();
      await this.#db.deleteFrom('conductors').where('heartbeat_at', '<', forget).execute();
    } catch (error) {
      this.#awaySince ??= this.#lastBeat ?? started;
      throw error;
    }
    if (this.#awaySince !== undefined) {
      this.#grace = { until: started + this.deadAfterMs, cutoff: this.#awaySince - this.deadAfterMs };
      this.#awaySince = undefined;
    }
    this.#lastBeat = started;
    await this.refresh();
  }

  /** True between a heartbeat failing and one succeeding again: the database is away. */
  get unreachable(): boolean {
    return this.#awaySince !== undefined;
  }

  /** A heartbeat at or after this (ms) is alive: dead-after ago, or what was alive before an outage, just after one. */
  #cutoff(now: number): number {
    const grace = this.#grace;
    if (grace && now < grace.until) return Math.min(now - this.deadAfterMs, grace.cutoff);
    this.#grace = undefined;
    return now - this.deadAfterMs;
  }

  /** The ids of the conductors alive now (this one always, once registered). */
  async live(): Promise<string[]> {
    const cutoff = new Date(this.#cutoff(this.#clock().getTime())).toISOString();
    const rows = await this.#db.selectFrom('conductors').select('id').where('heartbeat_at', '>=', cutoff).execute();
    const ids = new Set(rows.map((r) => r.id));
    if (this.#id !== undefined) ids.add(this.#id);
    return [...ids];
  }

  async refresh(): Promise<HashRing> {
    const live = await this.live();
    // The same members place every machine alike: the ring (and the owners it remembers) is kept.
    if (!this.#ring.sameMembers(live)) this.#ring = new HashRing(live, this.#virtualNodes);
    return this.#ring;
  }

  /** True on SQLite: this process owns every machine, and no other conductor exists. */
  get ownsEverything(): boolean {
    return this.#ownsAll;
  }

  /** The live conductor that does a machine's periodic work, as of the last heartbeat; undefined before register(). */
  ownerOf(machineName: string): string | undefined {
    if (this.#ownsAll) return this.#id;
    return this.#ring.owner(machineName);
  }

  /** The ids of the machines the ring gives a conductor (none for one that is not live). */
  async machinesOf(conductorId: string): Promise<number[]> {
    const rows = await this.#db.selectFrom('machines').select(['id', 'name']).orderBy('id').execute();
    return rows.filter((r) => this.ownerOf(r.name) === conductorId).map((r) => r.id);
  }

  /** True when this conductor is the one to do a machine's periodic work (power sync). */
  owns(machineName: string): boolean {
    if (this.#ownsAll) return true;
    return this.#id !== undefined && this.#ring.owner(machineName) === this.#id;
  }

  /** True when the conductor no longer heartbeats: no row, or its heartbeat older than the timeout. This one never is. */
  async isDead(id: string): Promise<boolean> {
    if (id === this.#id) return false;
    const row = await this.#db.selectFrom('conductors').select('heartbeat_at').where('id', '=', id).executeTakeFirst();
    if (!row) return true;
    return Date.parse(row.heartbeat_at) < this.#cutoff(this.#clock().getTime());
  }

  /** Every conductor with its heartbeat's age, alive or dead, and how many machines the live ring gives it. */
  async list(): Promise<ConductorInfo[]> {
    const now = this.#clock().getTime();
    const rows = await this.#db.selectFrom('conductors').selectAll().orderBy('started_at').orderBy('id').execute();
    const cutoff = this.#cutoff(now);
    const alive = rows.filter((r) => Date.parse(r.heartbeat_at) >= cutoff || r.id === this.#id).map((r) => r.id);
    const counts = new Map<string, number>();
    const names = await this.#db.selectFrom('machines').select('name').execute();
    if (this.#ownsAll && alive.length > 0) counts.set(alive[0]!, names.length);
    else {
      const ring = new HashRing(alive, this.#virtualNodes);
      for (const { name } of names) {
        const owner = ring.owner(name);
        if (owner !== undefined) counts.set(owner, (counts.get(owner) ?? 0) + 1);
      }
    }
    return rows.map((r) => ({
      id: r.id,
      hostname: r.hostname,
      pid: r.pid,
      startedAt: r.started_at,
      heartbeatAt: r.heartbeat_at,
      heartbeatAgeMs: Math.max(0, now - Date.parse(r.heartbeat_at)),
      alive: alive.includes(r.id),
      machines: counts.get(r.id) ?? 0,
    }));
  }

  /**
   * Heartbeats every interval until the signal aborts, then calls `tick` (the server releases
   * dead conductors' locks there). A failed heartbeat (the database away) is logged once, and
   * the loop goes on; the ring stays as it was until one succeeds, which is logged too.
   */
  start(signal: AbortSignal, log: ConductorLog, tick: () => Promise<void> = async () => {}): void {
    let failing: number | undefined;
    const beat = async () => {
      try {
        await this.heartbeat();
      } catch (error) {
        if (failing === undefined) {
          failing = this.#clock().getTime();
          log.warn(
            { err: error },
            `conductor heartbeat failed: ${(error as Error).message}; it goes on trying every ${this.heartbeatMs / 1000} s, and no conductor is judged dead for the outage`,
          );
        }
        return;
      }
      if (failing !== undefined) {
        log.info(
          { downS: Math.round((this.#clock().getTime() - failing) / 1000) },
          `conductor heartbeats again; the others have ${this.deadAfterMs / 1000} s to do the same before they are judged dead`,
        );
        failing = undefined;
      }
      await tick();
    };
    const schedule = () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => {
        this.#beating = beat()
          .catch((error: unknown) => log.warn({ err: error }, `conductor heartbeat failed: ${(error as Error).message}`))
          .finally(schedule);
      }, this.heartbeatMs);
      this.#timer.unref();
    };
    if (signal.aborted) return;
    // The row stays until stop(): the server still finishes operations holding locks in its name.
    signal.addEventListener('abort', () => this.#halt(), { once: true });
    schedule();
  }

  #halt(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  /** Stops heartbeating and removes this conductor's row, so the others own its machines at once. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#halt();
      await this.#beating;
      const id = this.#id;
      if (id === undefined) return;
      await this.#db.deleteFrom('conductors').where('id', '=', id).execute();
      this.#id = undefined;
    })();
    return this.#stopping;
  }
}

/**
 * Conductor settings from the environment, for `anvil serve` and `anvil conductor list`:
 * ANVIL_CONDUCTOR_HEARTBEAT (seconds between heartbeats) and ANVIL_CONDUCTOR_DEAD_AFTER
 * (seconds without one before a conductor is dead). Invalid values are an error naming the variable.
 */
export function conductorFromEnv(env: NodeJS.ProcessEnv): Pick<ConductorOptions, 'heartbeatMs' | 'deadAfterMs'> {
  const read = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}='${text}' must be a positive number of seconds`);
    return Math.round(n * 1000);
  };
  const heartbeatMs = read('ANVIL_CONDUCTOR_HEARTBEAT');
  const deadAfterMs = read('ANVIL_CONDUCTOR_DEAD_AFTER');
  return { ...(heartbeatMs !== undefined ? { heartbeatMs } : {}), ...(deadAfterMs !== undefined ? { deadAfterMs } : {}) };
}
