// XXH64 (seed 0), the checksum the deploy agent computes of a disk it captures: its digest as 16
// lower-case hex digits, most significant first (what xxhsum prints, and the agent's
// capture.xxh64=). The agent uses Debian's libxxhash; anvil uses xxhash-wasm, the reference C
// code built to WebAssembly (2 GB/s and more here, faster than the SHA-256 it computes beside it).
import xxhash from 'xxhash-wasm';

type Hasher = ReturnType<Awaited<ReturnType<typeof xxhash>>['create64']>;

let api: ReturnType<typeof xxhash> | undefined;

export const XXH64_HEX = /^[0-9a-f]{16}$/;

/** A running XXH64: update() with each piece in order, then hex(). */
export class Xxh64 {
  readonly #state: Hasher;

  private constructor(state: Hasher) {
    this.#state = state;
  }

  static async create(): Promise<Xxh64> {
    api ??= xxhash();
    return new Xxh64((await api).create64());
  }

  update(data: Uint8Array): void {
    this.#state.update(data);
  }

  hex(): string {
    return this.#state.digest().toString(16).padStart(16, '0');
  }
}
