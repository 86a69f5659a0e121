// The seeded generator every fuzz test draws from: xorshift32 (Marsaglia, "Xorshift RNGs",
// 2003; shifts 13, 17, 5), so a failing run replays from its seed. For tests only: protocol
// code takes its randomness injected and never imports this. It lives under src/protocols/
// so that the protocols' own tests import nothing outside it; tests under test/ use it too.

/** A generator: each call returns the next unsigned 32-bit value. */
export type Prng = () => number;

/** xorshift32 from a seed; 0, the generator's one fixed point, is taken as 1. */
export function xorshift32(seed: number): Prng {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Floats in [0, 1) from a generator, as Math.random gives them. */
export function uniform(next: Prng): () => number {
  return () => next() / 2 ** 32;
}
