// 012: which processes hold an image's file. On PostgreSQL every `anvil serve` keeps the image
// library's files in its own data directory; an image's row is shared, its file is where it was
// uploaded or captured. A process asked for an image it does not hold (an agent's download, the
// API's) reads it from one that does, at the URL that process recorded here with its copy.
import { notNull, type AnyDb } from './helpers.ts';

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('image_copies')
    .addColumn('image_id', 'integer', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('peer_url', 'text', notNull)
    .addColumn('created_at', 'text', notNull)
    .addPrimaryKeyConstraint('image_copies_pk', ['image_id', 'peer_url'])
    .execute();
}
