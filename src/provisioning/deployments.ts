// Deployments: one deploy or capture of one machine, from start to its end. Each has its
// agent's token — random, shown to nobody but the machine (in its boot answer), stored hashed
// for lookup and sealed for handing out again — which is valid only while the deployment is.
//
//   starting → wait-callback → writing | reading → verifying → finishing → done
//                                                             ↘ failed (any step, with the reason)
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, Deployment } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import { durably } from '../store/durable.ts';
import { MachineChanges } from '../machines/changes.ts';
import { AnvilError } from '../common/errors.ts';
import type { SecretBox } from '../drivers/secrets.ts';

export type { Deployment } from '../store/schema.ts';

export type DeploymentKind = 'deploy' | 'capture';
export type DeploymentState = 'starting' | 'wait-callback' | 'writing' | 'reading' | 'verifying' | 'finishing' | 'done' | 'failed';
/** States in which the agent may talk to anvil. */
export const AGENT_STATES: readonly DeploymentState[] = ['wait-callback', 'writing', 'reading', 'verifying'];

/** Agent tokens start with this, so a leaked one is recognisable. */
export const AGENT_TOKEN_PREFIX = 'anvilagent_';

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

/** The agent's token is not (or no longer) valid: every agent route answers 403 and changes nothing. */
export class AgentRefusedError extends AnvilError {
  override readonly name = 'AgentRefusedError';
  constructor(message: string) {
    super('AGENT_TOKEN_REFUSED', 'forbidden', message);
  }
}

export interface Progress {
  readonly phase: string;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly at: string | null;
}

export class Deployments {
  readonly #db: Kysely<Database>;
  readonly #secrets: SecretBox;
  readonly #clock: Clock;
  readonly #changes: MachineChanges;

  constructor(db: Kysely<Database>, secrets: SecretBox, clock: Clock, changes = new MachineChanges()) {
    this.#changes = changes;
    this.#db = db;
    this.#secrets = secrets;
    this.#clock = clock;
  }

  async create(fields: {
    machineId: number;
    kind: DeploymentKind;
    imageId: number | null;
    imageName: string;
    requestedBy: string;
    timeoutS: number | null;
    stallTimeoutS?: number | null | undefined;
    bytesTotal: number;
    device?: string | undefined;
    notes?: string | undefined;
  }): Promise<Deployment> {
    const token = AGENT_TOKEN_PREFIX + randomBytes(24).toString('base64url');
    const now = stamp(this.#clock);
    const created = await durably(this.#db, (trx) =>
      trx
        .insertInto('deployments')
        .values({
          machine_id: fields.machineId,
          kind: fields.kind,
          image_id: fields.imageId,
          image_name: fields.imageName,
          state: 'starting',
          token_hash: hashOf(token),
          token_sealed: this.#secrets.encrypt(token),
          requested_by: fields.requestedBy,
          timeout_s: fields.timeoutS,
          stall_timeout_s: fields.stallTimeoutS ?? null,
          device: fields.device ?? null,
          notes: fields.notes ?? '',
          created_at: now,
          updated_at: now,
          bytes_total: fields.bytesTotal,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    this.#changes.publish({ machineId: created.machine_id, topic: 'deploy' });
    return created;
  }

  /** The agent's token of a deployment, for its boot answer. */
  tokenOf(deployment: Deployment): string {
    return this.#secrets.decrypt(deployment.token_sealed);
  }

  /**
   * The deployment a token belongs to while its agent may still talk (or, with `states`, while
   * it is in one of those: a BMC fetches the agent's ISO while the deploy is still starting);
   * AgentRefusedError otherwise.
   */
  async byToken(token: string | undefined, states: readonly DeploymentState[] = AGENT_STATES): Promise<Deployment> {
    if (!token || !token.startsWith(AGENT_TOKEN_PREFIX) || token.length > 200)
      throw new AgentRefusedError('this needs the agent token of a deploy in progress (X-Anvil-Token)');
    const row = await this.#db.selectFrom('deployments').selectAll().where('token_hash', '=', hashOf(token)).executeTakeFirst();
    if (!row) throw new AgentRefusedError('this agent token belongs to no deploy');
    if (!(states as readonly string[]).includes(row.state))
      throw new AgentRefusedError(`the ${row.kind} this agent works for is ${row.state}${row.error ? `: ${row.error}` : ''}`);
    return row;
  }

  async get(id: number): Promise<Deployment | undefined> {
    return this.#db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The machine's deployment that has not finished, if any. */
  async current(machineId: number): Promise<Deployment | undefined> {
    return this.#db
      .selectFrom('deployments')
      .selectAll()
      .where('machine_id', '=', machineId)
      .where('finished_at', 'is', null)
      .orderBy('id', 'desc')
      .executeTakeFirst();
  }

  /** The machine's most recent deployment, finished or not. */
  async latest(machineId: number): Promise<Deployment | undefined> {
    return this.#db.selectFrom('deployments').selectAll().where('machine_id', '=', machineId).orderBy('id', 'desc').executeTakeFirst();
  }

  async list(machineId: number, limit = 20): Promise<Deployment[]> {
    return this.#db.selectFrom('deployments').selectAll().where('machine_id', '=', machineId).orderBy('id', 'desc').limit(limit).execute();
  }

  /** How long each finished deployment took, in seconds, with its kind and end state: for metrics. */
  async durations(): Promise<Array<{ kind: string; state: string; seconds: number }>> {
    const rows = await this.#db.selectFrom('deployments').select(['kind', 'state', 'created_at', 'finished_at']).where('finished_at', 'is not', null).execute();
    return rows.map((r) => ({ kind: r.kind, state: r.state, seconds: (Date.parse(r.finished_at!) - Date.parse(r.created_at)) / 1000 }));
  }

  /** Every deployment that has not finished (for the watchdog and recovery after a restart). */
  async unfinished(): Promise<Deployment[]> {
    return this.#db.selectFrom('deployments').selectAll().where('finished_at', 'is', null).orderBy('id').execute();
  }

  /** Moves a deployment on, only from the states given (a compare-and-set); false when it had moved already. */
  async move(
    id: number,
    from: readonly string[],
    to: DeploymentState,
    fields: Partial<Pick<Deployment, 'phase' | 'device' | 'agent_info' | 'result' | 'error' | 'bytes_done' | 'bytes_total' | 'upload_file'>> = {},
  ): Promise<boolean> {
    const now = stamp(this.#clock);
    const done = to === 'done' || to === 'failed';
    // Durable: a deploy or capture that said it was done (or failed) must not come back as running after a power loss.
    const result = await durably(this.#db, (trx) =>
      trx
        .updateTable('deployments')
        .set({ ...fields, state: to, updated_at: now, ...(done ? { finished_at: now } : {}) })
        .where('id', '=', id)
        .where('state', 'in', [...from])
        .returning('machine_id')
        .executeTakeFirst(),
    );
    if (result) this.#changes.publish({ machineId: result.machine_id, topic: 'deploy' });
    return result !== undefined;
  }

  /** Records an agent's progress report; false when the deployment no longer takes reports. */
  async progress(id: number, phase: string, bytesDone: number): Promise<boolean> {
    const now = stamp(this.#clock);
    const result = await this.#db
      .updateTable('deployments')
      .set({ phase, bytes_done: bytesDone, progress_at: now, updated_at: now })
      .where('id', '=', id)
      .where('state', 'in', [...AGENT_STATES])
      .returning('machine_id')
      .executeTakeFirst();
    if (result) this.#changes.publish({ machineId: result.machine_id, topic: 'deploy' });
    return result !== undefined;
  }
}

/** When a deployment must have finished by: its own timeout, else the server's. */
export function deadlineOf(deployment: Pick<Deployment, 'created_at' | 'timeout_s'>, defaultTimeoutS: number): number {
  return Date.parse(deployment.created_at) + (deployment.timeout_s ?? defaultTimeoutS) * 1000;
}
