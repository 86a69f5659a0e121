// The in-process bus of machine changes: power, provision state, next boot, boot log, runs and
// deploy progress. Services publish after their write commits; live pages subscribe. A change
// names the machine and what moved, never the new values: subscribers read those back, so a
// missed or coalesced change cannot leave them showing a stale value.

export type ChangeTopic = 'power' | 'provision' | 'next-boot' | 'boot' | 'run' | 'deploy' | 'machine';

export interface MachineChange {
  readonly machineId: number;
  readonly topic: ChangeTopic;
}

export type ChangeListener = (change: MachineChange) => void;

export class MachineChanges {
  readonly #listeners = new Set<ChangeListener>();
  readonly #outgoing = new Set<ChangeListener>();

  /**
   * A change this process made: tells every subscriber, and every relay (change-relay.ts sends
   * it to the other processes on the database). A listener that throws is dropped from this
   * delivery, never the publisher's problem.
   */
  publish(change: MachineChange): void {
    for (const relay of this.#outgoing) {
      try {
        relay(change);
      } catch {
        // Another process missing it is for its poll to catch, not this write to fail.
      }
    }
    this.deliver(change);
  }

  /** A change another process made (heard or polled): tells the subscribers only, so it is never sent on again. */
  deliver(change: MachineChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // A page's stream failing must not fail the power change that told it.
      }
    }
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Hears this process's own changes only (what publish() is told), to pass them on; returns the function that stops it. */
  relay(listener: ChangeListener): () => void {
    this.#outgoing.add(listener);
    return () => {
      this.#outgoing.delete(listener);
    };
  }

  /** The live pages listening (relays are not counted). */
  get subscribers(): number {
    return this.#listeners.size;
  }
}
