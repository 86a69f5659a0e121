// GET /events: the live pages' server-sent events. One feed per server listens to the domain's
// change bus while any page is open, gathers changes for a moment (a power sync may touch
// hundreds of machines at once), reads each changed machine back once and tells every open
// page: its states and its fleet row, already rendered and escaped. Pages (static/live.js)
// put the row in place and re-read their other live parts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { ChangeTopic, MachineChange, MachineChanges } from '../machines/changes.ts';
import { identify } from '../auth/caller.ts';
import type { Tokens } from '../auth/tokens.ts';
import type { WebSessions } from '../auth/sessions.ts';
import type { WebContext } from './context.ts';
import { fleetRows, outcome, ownerColumn } from './fleet.ts';

export const EVENTS_PATH = '/events';
/** A comment this often keeps proxies from closing a quiet stream and finds dead ones. */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** Changes within this long are sent together, each machine once. */
export const DEFAULT_GATHER_MS = 100;
/** How long a browser waits before reconnecting a dropped stream. */
export const RETRY_MS = 3_000;

export interface LiveOptions {
  readonly heartbeatMs?: number | undefined;
  readonly gatherMs?: number | undefined;
}

/** What a page is told about one machine. */
export interface MachineUpdate {
  readonly name: string;
  readonly topics: readonly ChangeTopic[];
  readonly power: string;
  readonly provision: string;
  readonly next: string;
  readonly once: boolean;
  readonly result: string;
  /** The machine's <tr> of the fleet table, stale marks included. */
  readonly row: string;
}

interface Stream {
  readonly raw: ServerResponse;
  /** Only this machine's changes (a machine page), or all (the fleet). */
  readonly machine: string | undefined;
}

export class LiveFeed {
  readonly #ctx: Pick<WebContext, 'changes' | 'nextBoot' | 'testing' | 'stale'> & Partial<Pick<WebContext, 'conductors'>>;
  readonly #heartbeatMs: number;
  readonly #gatherMs: number;
  readonly #streams = new Set<Stream>();
  readonly #pending = new Map<number, Set<ChangeTopic>>();
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(ctx: Pick<WebContext, 'changes' | 'nextBoot' | 'testing' | 'stale'> & Partial<Pick<WebContext, 'conductors'>>, options: LiveOptions = {}) {
    this.#ctx = ctx;
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#gatherMs = options.gatherMs ?? DEFAULT_GATHER_MS;
  }

  get streams(): number {
    return this.#streams.size;
  }

  /** Starts an event stream on `raw`; it ends when the browser goes away or the feed closes. */
  open(raw: ServerResponse, machine: string | undefined, headers: Record<string, string>): void {
    raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    raw.write(`retry: ${RETRY_MS}\n: anvil live updates\n\n`);
    const stream: Stream = { raw, machine };
    this.#streams.add(stream);
    raw.on('close', () => this.#drop(stream));
    if (!this.#unsubscribe) this.#unsubscribe = this.#ctx.changes.subscribe((change) => this.#heard(change));
    if (!this.#heartbeat) {
      this.#heartbeat = setInterval(() => {
        for (const s of this.#streams) s.raw.write(': heartbeat\n\n');
      }, this.#heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  /** Ends every stream (the server is stopping: open streams would hold it up). */
  close(): void {
    for (const s of [...this.#streams]) s.raw.end();
    this.#stop();
  }

  #drop(stream: Stream): void {
    this.#streams.delete(stream);
    if (this.#streams.size === 0) this.#stop();
  }

  #stop(): void {
    this.#streams.clear();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
  }

  #heard(change: MachineChange): void {
    let topics = this.#pending.get(change.machineId);
    if (!topics) this.#pending.set(change.machineId, (topics = new Set()));
    topics.add(change.topic);
    this.#timer ??= setTimeout(() => void this.#flush(), this.#gatherMs);
  }

  async #flush(): Promise<void> {
    this.#timer = undefined;
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const [machineId, topics] of pending) {
      if (this.#streams.size === 0) return;
      let update: MachineUpdate | undefined;
      try {
        update = await this.#read(machineId, [...topics]);
      } catch {
        continue; // the machine was removed, or the store is closing: nothing to show
      }
      if (!update) continue;
      const frame = `event: machine\ndata: ${JSON.stringify(update)}\n\n`;
      for (const s of this.#streams) if (s.machine === undefined || s.machine === update.name) s.raw.write(frame);
    }
  }

  async #read(machineId: number, topics: ChangeTopic[]): Promise<MachineUpdate | undefined> {
    const [[machine], latest, stale] = await Promise.all([
      this.#ctx.nextBoot.fleet(machineId),
      this.#ctx.testing.latestResults(machineId),
      this.#ctx.stale.find(machineId),
    ]);
    if (!machine) return undefined;
    const result = latest.get(machine.name);
    return {
      name: machine.name,
      topics,
      power: machine.powerState,
      provision: machine.provisionState,
      next: machine.nextProfile,
      once: machine.nextOnce,
      result: result ? outcome(result) : 'none',
      // No checkbox: pages that have one keep their own (live.js moves it into the new row).
      row: fleetRows([machine], latest, { stale, owner: ownerColumn(this.#ctx.conductors) }),
    };
  }
}

/** GET /events?machine=NAME (that machine only) or GET /events (the whole fleet). */
export function liveRoutes(app: FastifyInstance, tokens: Tokens, sessions: WebSessions, feed: LiveFeed, headers: Record<string, string>): void {
  app.addHook('preClose', async () => feed.close());
  app.get(EVENTS_PATH, async (request: FastifyRequest<{ Querystring: { machine?: string } }>, reply) => {
    // A stream has no page to send a sign-in form to: a browser that lost its session is told so.
    const caller = await identify(tokens, request, sessions);
    if (!caller) return reply.status(401).type('text/plain; charset=utf-8').send('sign in at /login to follow live updates\n');
    const machine = typeof request.query.machine === 'string' && request.query.machine !== '' ? request.query.machine : undefined;
    reply.hijack();
    feed.open(reply.raw, machine, headers);
  });
}
