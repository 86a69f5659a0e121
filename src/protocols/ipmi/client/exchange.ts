// The request/response engine under a Session: one exchange waiting at a time, each attempt
// sent with a deadline that grows with the attempt (RetryPolicy: timeout, backoff, jitter),
// resent only when the request is idempotent, and answers that do not decode counted and
// remembered without ending the wait. The Session frames the bytes and says which answer it
// waits for; this module only sends, waits and decides when to give up.
import { IpmiDecodeError } from '../errors.ts';
import type { Deadline, Deadlines } from './deadlines.ts';
import { IpmiTimeoutError, IpmiUncertainError } from './errors.ts';
import type { Randomness, RetryPolicy } from './options.ts';

export interface ExchangeOptions {
  /** Sends in all, for an idempotent request; a non-idempotent one is sent once. */
  readonly attempts: number;
  readonly idempotent: boolean;
}

/** What the engine needs of the session it serves. */
export interface ExchangeLink {
  /** "host:port" for messages (never the password). */
  readonly host: string;
  readonly policy: RetryPolicy;
  readonly random: Randomness;
  readonly deadlines: Deadlines;
  /** Sends one datagram to the BMC. */
  send(packet: Buffer): void;
  /** Keeps the transport's socket referenced while an exchange waits; `release` lets it go. */
  hold(): void;
  release(): void;
  /** An answer did not decode (it never ends a session by itself). */
  countGarbage(): void;
}

/** A request waiting for its answer: one per exchange, not one promise and five closures per attempt. */
interface Waiting<T> {
  readonly what: string;
  readonly build: () => Buffer;
  readonly match: (packet: Buffer) => T | undefined;
  readonly options: ExchangeOptions;
  attempt: number;
  /** The last answer that did not decode, reported if nothing better arrives. */
  garbage: IpmiDecodeError | undefined;
  deadline: Deadline | undefined;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export class ExchangeEngine {
  readonly #link: ExchangeLink;
  #pending: Waiting<unknown> | undefined;

  constructor(link: ExchangeLink) {
    this.#link = link;
  }

  /**
   * Sends what `build` makes and waits for a datagram `match` accepts. A datagram that does
   * not decode is counted and remembered, and the wait goes on; a non-decode error thrown by
   * `match` (a login refusal) ends the wait at once. A non-idempotent request is never resent.
   */
  exchange<T>(what: string, build: () => Buffer, match: (packet: Buffer) => T | undefined, options: ExchangeOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#link.hold();
      this.#attempt({ what, build, match, options, attempt: 0, garbage: undefined, deadline: undefined, resolve, reject });
    });
  }

  /** A datagram for the waiting exchange, if any: true when it was taken. */
  offer(packet: Buffer): boolean {
    const w = this.#pending;
    if (w === undefined) return false;
    let value: unknown;
    try {
      value = w.match(packet);
    } catch (error) {
      if (error instanceof IpmiDecodeError) {
        w.garbage = error;
        this.#link.countGarbage();
        return false;
      }
      this.#settle(w);
      w.reject(error);
      return true;
    }
    if (value === undefined) return false;
    this.#settle(w);
    w.resolve(value);
    return true;
  }

  /** Sends one attempt of an exchange and sets its deadline. */
  #attempt<T>(w: Waiting<T>): void {
    const { policy, random } = this.#link;
    const wait = policy.timeoutMs * (1 + w.attempt * policy.backoff) * (1 + policy.jitter * random.fraction());
    try {
      const packet = w.build();
      this.#pending = w as Waiting<unknown>;
      w.deadline = this.#link.deadlines.add(wait, () => this.#expired(w));
      this.#link.send(packet);
    } catch (error) {
      this.#settle(w);
      w.reject(error);
    }
  }

  /** An attempt went unanswered: resend when allowed, else fail with what was learnt. */
  #expired<T>(w: Waiting<T>): void {
    if (this.#pending === w) this.#pending = undefined;
    w.deadline = undefined;
    w.attempt++;
    const host = this.#link.host;
    let error: Error | undefined;
    if (w.garbage)
      error = new IpmiDecodeError(`${host}: the answer to ${w.what} could not be decoded (${w.garbage.message}); the session stays usable`, {
        cause: w.garbage,
      });
    else if (!w.options.idempotent) error = new IpmiUncertainError(host, w.what);
    else if (w.attempt >= w.options.attempts) error = new IpmiTimeoutError(host, w.what, w.options.attempts);
    if (error === undefined) return this.#attempt(w);
    this.#settle(w);
    w.reject(error);
  }

  /** Ends an exchange's wait: no deadline, no pending slot, no hold on the event loop. */
  #settle<T>(w: Waiting<T>): void {
    w.deadline?.cancel();
    w.deadline = undefined;
    if (this.#pending === w) this.#pending = undefined;
    this.#link.release();
  }
}
