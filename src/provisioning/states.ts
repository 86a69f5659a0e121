// Provision states (DESIGN.md; a subset of Ironic's state machine): one table of what each
// verb does from each state. Anything not in the table is refused with the current state and
// what is allowed from it; every transition is recorded as a machine event naming its cause.
//
//   enroll ─manage→ manageable ─provide→ available ─deploy→ deploying ⇄ wait-callback ─→ active
//   active ─undeploy→ undeploying ─→ available      active ─capture→ capturing ⇄ capture-wait ─→ active
//   failures: deploy-failed, capture-failed, error  (maintenance is a flag beside the state)
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import { AnvilError, listWords } from '../common/errors.ts';
import type { Machine } from '../machines/machines.ts';
import type { MachineEvents } from '../machines/events.ts';

export const PROVISION_STATES = [
  'enroll',
  'manageable',
  'available',
  'deploying',
  'wait-callback',
  'active',
  'undeploying',
  'capturing',
  'capture-wait',
  'deploy-failed',
  'capture-failed',
  'error',
] as const;
export type ProvisionState = (typeof PROVISION_STATES)[number];

/** What operators ask for (`anvil machine VERB`, PUT /machines/{name}/provision). */
export const PROVISION_VERBS = ['manage', 'provide', 'deploy', 'undeploy', 'abort', 'capture'] as const;
export type ProvisionVerb = (typeof PROVISION_VERBS)[number];

/** What anvil's own steps report: the agent called back, a step finished, failed or timed out. */
export type ProvisionEvent = ProvisionVerb | 'wait' | 'callback' | 'done' | 'fail';

/** States a machine passes through while anvil works on it: never left there after a restart. */
export const TRANSIENT_STATES: readonly ProvisionState[] = ['deploying', 'wait-callback', 'undeploying', 'capturing', 'capture-wait'];

/** The one table: from a state, what each event leads to. */
export const TRANSITIONS: Readonly<Record<ProvisionState, Partial<Record<ProvisionEvent, ProvisionState>>>> = {
  enroll: { manage: 'manageable' },
  manageable: { provide: 'available', manage: 'manageable' },
  available: { deploy: 'deploying', manage: 'manageable' },
  deploying: { wait: 'wait-callback', done: 'active', fail: 'deploy-failed', abort: 'deploy-failed' },
  'wait-callback': { callback: 'deploying', fail: 'deploy-failed', abort: 'deploy-failed' },
  active: { deploy: 'deploying', undeploy: 'undeploying', capture: 'capturing' },
  undeploying: { done: 'available', fail: 'error' },
  capturing: { wait: 'capture-wait', done: 'active', fail: 'capture-failed', abort: 'capture-failed' },
  'capture-wait': { callback: 'capturing', fail: 'capture-failed', abort: 'capture-failed' },
  'deploy-failed': { deploy: 'deploying', undeploy: 'undeploying', manage: 'manageable' },
  'capture-failed': { capture: 'capturing', undeploy: 'undeploying', done: 'active' },
  error: { undeploy: 'undeploying', manage: 'manageable' },
};

export function isProvisionState(value: string): value is ProvisionState {
  return (PROVISION_STATES as readonly string[]).includes(value);
}

/** The state `event` leads to from `from`, or undefined when the table has no such arrow. */
export function nextState(from: string, event: ProvisionEvent): ProvisionState | undefined {
  return isProvisionState(from) ? TRANSITIONS[from][event] : undefined;
}

export class ProvisionStateError extends AnvilError {
  override readonly name = 'ProvisionStateError';
  constructor(machine: string, from: string, event: ProvisionEvent) {
    const allowed = isProvisionState(from) ? Object.keys(TRANSITIONS[from]).filter((e) => (PROVISION_VERBS as readonly string[]).includes(e)) : [];
    super(
      'INVALID_PROVISION_STATE',
      'conflict',
      `machine '${machine}' is ${from}: it cannot ${event} from there; from ${from} it can ${allowed.length ? listWords(allowed) : 'only wait for the step in progress'}`,
    );
  }
}

export class ProvisionStates {
  readonly #db: Kysely<Database>;
  readonly #events: MachineEvents;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, events: MachineEvents, clock: Clock) {
    this.#db = db;
    this.#events = events;
    this.#clock = clock;
  }

  /** Throws ProvisionStateError unless `event` is allowed from the machine's state; returns the next state. */
  check(machine: Pick<Machine, 'name' | 'provision_state'>, event: ProvisionEvent): ProvisionState {
    const to = nextState(machine.provision_state, event);
    if (!to) throw new ProvisionStateError(machine.name, machine.provision_state, event);
    return to;
  }

  canApply(machine: Pick<Machine, 'provision_state'>, event: ProvisionEvent): boolean {
    return nextState(machine.provision_state, event) !== undefined;
  }

  /**
   * Moves the machine by `event` (a compare-and-set on the state it was read in, so two
   * callers cannot both move it) and records who or what caused it. Returns the new state.
   */
  async apply(machine: Pick<Machine, 'id' | 'name' | 'provision_state'>, event: ProvisionEvent, cause: string, error?: string): Promise<ProvisionState> {
    const to = this.check(machine, event);
    const result = await this.#db
      .updateTable('machines')
      .set({
        provision_state: to,
        updated_at: stamp(this.#clock),
        ...(error !== undefined ? { provision_error: error } : event === 'fail' ? {} : { provision_error: null }),
      })
      .where('id', '=', machine.id)
      .where('provision_state', '=', machine.provision_state)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      const now = await this.#db.selectFrom('machines').select('provision_state').where('id', '=', machine.id).executeTakeFirst();
      throw new ProvisionStateError(machine.name, now?.provision_state ?? 'gone', event);
    }
    await this.#events.record(machine.id, 'provision', `${machine.provision_state} → ${to} (${event} by ${cause})${error ? `: ${error}` : ''}`);
    return to;
  }
}
