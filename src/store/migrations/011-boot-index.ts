// 011: the fleet page's last-boot sort and filter read each machine's latest boot (kind 'boot')
// in boot_log. The (machine_id, id) index of 001 holds every kind, so PostgreSQL read the rows
// to skip the others and planned a cost high enough to compile the query (JIT) on each load:
// 200–400 ms at 10,000 machines. This partial index has only the boots: a backward index-only
// probe per machine (bench/fleet-scale.ts shows the page with and without it).
import { sql } from 'kysely';
import type { AnyDb } from './helpers.ts';

export async function up(db: AnyDb): Promise<void> {
  await db.schema.createIndex('boot_log_machine_boot').on('boot_log').columns(['machine_id', 'id']).where(sql.ref('kind'), '=', 'boot').execute();
}
