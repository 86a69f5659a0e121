// Live changes among the anvil processes sharing one PostgreSQL database: each process sends the
// changes it makes (MachineChanges.publish, after the write committed) on a NOTIFY channel, and
// delivers what the others send to its own live pages, so a page on one process shows a power
// change made through another within moments. Changes are gathered for a moment (a power sync
// may change hundreds of machines at once) and sent as few notifications as fit.
//
// A notification sent while a process's listening connection is down (the database away) is
// lost to it; ChangePoll, which reads events, boots and runs by primary key every
// DEFAULT_POLL_MS while a page listens, still brings those within its bound.
import { randomBytes } from 'node:crypto';
import type { NotifyChannel } from '../store/postgres-channel.ts';
import { NOTIFY_PAYLOAD_LIMIT } from '../store/postgres-channel.ts';
import type { ChangeTopic, MachineChange, MachineChanges } from './changes.ts';

export const CHANGES_CHANNEL = 'anvil_changes';
/** Changes within this long go out in one notification. */
export const RELAY_GATHER_MS = 50;

const TOPICS: ReadonlySet<string> = new Set<ChangeTopic>(['power', 'provision', 'next-boot', 'boot', 'run', 'deploy', 'machine']);

/** `<origin> <id>:<topic> <id>:<topic> …`, split so that none is longer than PostgreSQL takes. */
export function encodeChanges(origin: string, changes: readonly MachineChange[]): string[] {
  const out: string[] = [];
  let payload = origin;
  for (const { machineId, topic } of changes) {
    const item = ` ${machineId}:${topic}`;
    if (payload.length + item.length > NOTIFY_PAYLOAD_LIMIT) {
      out.push(payload);
      payload = origin;
    }
    payload += item;
  }
  if (payload !== origin) out.push(payload);
  return out;
}

/** The origin and changes of a payload; malformed items are skipped (another version may send more). */
export function decodeChanges(payload: string): { origin: string; changes: MachineChange[] } {
  const [origin = '', ...items] = payload.split(' ');
  const changes: MachineChange[] = [];
  for (const item of items) {
    const [id, topic] = item.split(':');
    const machineId = Number(id);
    if (Number.isSafeInteger(machineId) && machineId > 0 && topic !== undefined && TOPICS.has(topic)) changes.push({ machineId, topic: topic as ChangeTopic });
  }
  return { origin, changes };
}

export class ChangeRelay {
  readonly #changes: MachineChanges;
  readonly #channel: NotifyChannel;
  readonly #onError: (error: unknown) => void;
  /** Tells this process's notifications from the others' (it hears its own too). */
  readonly origin = randomBytes(6).toString('hex');
  readonly #pending = new Map<string, MachineChange>();
  #timer: NodeJS.Timeout | undefined;
  #stopRelay: (() => void) | undefined;
  #sending: Promise<void> = Promise.resolve();
  #failing = false;

  constructor(changes: MachineChanges, channel: NotifyChannel, onError: (error: unknown) => void = () => undefined) {
    this.#changes = changes;
    this.#channel = channel;
    this.#onError = onError;
  }

  /** Sends this process's changes and delivers the others'; `onListening` is told each time the channel listens (again). */
  start(onListening?: () => void): void {
    this.#stopRelay = this.#changes.relay((change) => {
      this.#pending.set(`${change.machineId} ${change.topic}`, change);
      this.#timer ??= setTimeout(() => this.#flush(), RELAY_GATHER_MS);
    });
    this.#channel.listen((payload) => {
      const { origin, changes } = decodeChanges(payload);
      if (origin === this.origin) return;
      for (const change of changes) this.#changes.deliver(change);
    }, onListening);
  }

  #flush(): void {
    this.#timer = undefined;
    const batch = [...this.#pending.values()];
    this.#pending.clear();
    this.#sending = this.#sending.then(async () => {
      for (const payload of encodeChanges(this.origin, batch)) {
        try {
          await this.#channel.notify(payload);
          this.#failing = false;
        } catch (error) {
          // Once per outage: the others' polls bring what is lost.
          if (!this.#failing) this.#onError(error);
          this.#failing = true;
        }
      }
    });
  }

  /** Sends what is gathered, then stops. */
  async stop(): Promise<void> {
    this.#stopRelay?.();
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#flush();
    }
    await this.#sending;
    await this.#channel.close();
  }
}
