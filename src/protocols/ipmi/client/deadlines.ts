// One timer for all the requests a transport waits on. A fleet keeps a thousand requests in
// flight, each with a jittered timeout that is nearly always cancelled by the answer a
// millisecond later; a setTimeout each (a Timeout object, and for every distinct duration a
// timer list in Node's priority queue) costs more than the deadlines are worth. Deadlines
// are rounded up to slots of `resolutionMs`, and one timer waits for the earliest slot.

/** Slot width: a timeout may fire this much late, which a 1 s IPMI timeout does not notice. */
export const DEFAULT_DEADLINE_RESOLUTION_MS = 10;

/** The clock and timer the queue uses; injectable so tests need not wait on real time. */
export interface DeadlineClock {
  now(): number;
  setTimer(fire: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/**
 * Milliseconds on a monotonic clock. process.hrtime(), not performance.now(): the first use of
 * the `performance` global loads perf_hooks, ~1 ms of a one-BMC `anvil ipmi` run.
 */
export function monotonicMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}

export const SYSTEM_CLOCK: DeadlineClock = {
  now: monotonicMs,
  setTimer(fire, ms) {
    const timer = setTimeout(fire, ms);
    // Whoever waits holds the event loop open (Transport.hold); a pending deadline alone must not.
    timer.unref();
    return timer;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface Deadline {
  /** Forgets the deadline; after it, `fire` will not run. */
  cancel(): void;
}

class Entry implements Deadline {
  readonly #owner: Deadlines;
  readonly slot: number;
  readonly #fire: () => void;
  #done = false;

  constructor(owner: Deadlines, slot: number, fire: () => void) {
    this.#owner = owner;
    this.slot = slot;
    this.#fire = fire;
  }

  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    this.#owner.remove(this);
  }

  /** Runs the callback unless cancelled (a slot being expired is already out of the map). */
  fire(): void {
    if (this.#done) return;
    this.#done = true;
    this.#fire();
  }
}

export class Deadlines {
  readonly #clock: DeadlineClock;
  readonly #resolution: number;
  readonly #slots = new Map<number, Set<Entry>>();
  #timer: unknown;
  /** The slot the timer is set for; Infinity when no timer is set. */
  #armed = Number.POSITIVE_INFINITY;

  constructor(options: { readonly resolutionMs?: number; readonly clock?: DeadlineClock } = {}) {
    this.#resolution = options.resolutionMs ?? DEFAULT_DEADLINE_RESOLUTION_MS;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
  }

  /** Deadlines not yet fired or cancelled. */
  get size(): number {
    let n = 0;
    for (const set of this.#slots.values()) n += set.size;
    return n;
  }

  /** Runs `fire` once, `ms` from now (up to one resolution later), unless cancelled first. */
  add(ms: number, fire: () => void): Deadline {
    const slot = Math.ceil((this.#clock.now() + ms) / this.#resolution);
    const entry = new Entry(this, slot, fire);
    let set = this.#slots.get(slot);
    if (set === undefined) this.#slots.set(slot, (set = new Set()));
    set.add(entry);
    if (slot < this.#armed) this.#arm(slot);
    return entry;
  }

  /** Entry.cancel's work. */
  remove(entry: Entry): void {
    const set = this.#slots.get(entry.slot);
    if (set === undefined || !set.delete(entry) || set.size > 0) return;
    this.#slots.delete(entry.slot);
    // An early slot emptied by answers is left to a harmless early wake-up, but with nothing left there is nothing to wake for.
    if (this.#slots.size === 0) this.#disarm();
  }

  #arm(slot: number): void {
    this.#disarm();
    this.#armed = slot;
    this.#timer = this.#clock.setTimer(() => this.#expire(), Math.max(0, slot * this.#resolution - this.#clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#armed = Number.POSITIVE_INFINITY;
  }

  #expire(): void {
    this.#timer = undefined;
    this.#armed = Number.POSITIVE_INFINITY;
    const due: Set<Entry>[] = [];
    const now = this.#clock.now() / this.#resolution;
    for (const [slot, set] of this.#slots) {
      if (slot > now) continue;
      this.#slots.delete(slot);
      due.push(set);
    }
    // Earliest first; an entry fired here may add new deadlines, which arm the timer themselves.
    due.sort((a, b) => first(a).slot - first(b).slot);
    for (const set of due) for (const entry of set) entry.fire();
    let next = Number.POSITIVE_INFINITY;
    for (const slot of this.#slots.keys()) if (slot < next) next = slot;
    if (next < this.#armed) this.#arm(next);
  }
}

function first(set: Set<Entry>): Entry {
  return set.values().next().value as Entry;
}
