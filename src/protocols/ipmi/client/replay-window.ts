// Replay protection for inbound session packets (IPMI v2.0 §6.12.13, §13.28.1): each
// sequence number is accepted once, within a window below the highest seen. Pure.

/** Numbers accepted below the highest seen; the spec asks for at least 8 (IPMI 1.5) and 16 (2.0). */
export const REPLAY_WINDOW = 32;

export class ReplayWindow {
  /** Highest number seen, -1 before the first; bit n of #seen is "highest − n was seen". */
  #highest = -1;
  #seen = 0;
  /** Packets refused as repeated or too old. */
  refused = 0;

  /** True the first time a number within the window is offered. Offer only verified packets. */
  accept(sequence: number): boolean {
    if (this.#highest < 0 || sequence > this.#highest) {
      const shift = this.#highest < 0 ? REPLAY_WINDOW : sequence - this.#highest;
      this.#seen = shift >= REPLAY_WINDOW ? 1 : ((this.#seen << shift) | 1) >>> 0;
      this.#highest = sequence;
      return true;
    }
    const back = this.#highest - sequence;
    if (back >= REPLAY_WINDOW || (this.#seen & (1 << back)) !== 0) {
      this.refused++;
      return false;
    }
    this.#seen = (this.#seen | (1 << back)) >>> 0;
    return true;
  }
}
