// A seeded pseudo-random generator (mulberry32) for randomised tests that must replay: the same
// seed gives the same sequence, so a failure names its seed and can be run again.

/** Returns a function yielding numbers in [0, 1) from `seed`. */
export function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
