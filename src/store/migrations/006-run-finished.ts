// 006: runs by finish time. Results over time read the finished runs of a window and, to choose
// the window, the first run ever finished; without the index both read every run.
import type { AnyDb, MigrationContext } from './helpers.ts';

export async function up(db: AnyDb, _ctx: MigrationContext): Promise<void> {
  await db.schema.createIndex('runs_finished').on('runs').column('finished_at').execute();
}
