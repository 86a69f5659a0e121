// A machine's event log: power changes, maintenance, controller failures, boot devices,
// driver changes, locks — who or what caused each, newest first when read.
import type { Kysely } from 'kysely';
import type { Database, MachineEvent } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';

export type { MachineEvent } from '../store/schema.ts';

export type EventKind = 'power' | 'maintenance' | 'controller' | 'boot-device' | 'driver' | 'lock' | 'provision';

export class MachineEvents {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  async record(machineId: number, kind: EventKind, message: string): Promise<void> {
    await this.#db
      .insertInto('machine_events')
      .values({ machine_id: machineId, at: stamp(this.#clock), kind, message })
      .execute();
  }

  async list(machineId: number, limit = 100, offset = 0): Promise<MachineEvent[]> {
    return this.#db.selectFrom('machine_events').selectAll().where('machine_id', '=', machineId).orderBy('id', 'desc').limit(limit).offset(offset).execute();
  }
}
