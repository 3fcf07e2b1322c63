// Which records rank r sees in epoch e, and in what order: a seeded Fisher-Yates permutation per epoch, then
// torch DistributedSampler's split (pad the tail by repeating the permutation's head, take every N-th).

/** mulberry32: a tiny 32-bit PRNG; good enough for shuffling and identical on every platform. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes seed and epoch so neighbouring epochs (and seeds) give unrelated streams. */
function epochSeed(seed: number, epoch: number): number {
  let h =
    Math.imul((seed >>> 0) ^ 0x85ebca6b, 0xc2b2ae35) ^ Math.imul((epoch >>> 0) + 0x27d4eb2f, 0x165667b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A permutation of 0..n-1, deterministic given (seed, epoch). */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const rand = mulberry32(epochSeed(seed, epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export interface SamplerOptions {
  /** Number of records in the dataset. */
  length: number;
  seed?: number;
  /** false: every epoch in file order (still sharded). */
  shuffle?: boolean;
  rank?: number;
  worldSize?: number;
  /**
   * When length is not divisible by worldSize: "pad" (default, as torch's DistributedSampler) repeats the
   * first records of the epoch's order so every rank gets ceil(n/N); "drop" gives each floor(n/N).
   */
  tail?: "pad" | "drop";
}

export class EpochSampler {
  readonly seed: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly tail: "pad" | "drop";

  constructor(readonly options: SamplerOptions) {
    this.seed = options.seed ?? 0;
    this.rank = options.rank ?? 0;
    this.worldSize = options.worldSize ?? 1;
    this.tail = options.tail ?? "pad";
    if (!Number.isInteger(this.worldSize) || this.worldSize < 1)
      throw new RangeError(`worldSize must be a positive integer, got ${this.worldSize}`);
    if (!Number.isInteger(this.rank) || this.rank < 0 || this.rank >= this.worldSize)
      throw new RangeError(`rank must be in [0, ${this.worldSize}), got ${this.rank}`);
    if (this.tail === "drop" && options.length < this.worldSize)
      throw new RangeError(
        `${options.length} records cannot be split over ${this.worldSize} ranks with tail "drop"`,
      );
  }

  /** Records per rank per epoch (equal on every rank, so data-parallel ranks step together). */
  get size(): number {
    const { length } = this.options;
    return this.tail === "pad" ? Math.ceil(length / this.worldSize) : Math.floor(length / this.worldSize);
  }

  /** This rank's record indices for `epoch`, in visiting order. */
  indices(epoch: number): Uint32Array {
    const n = this.options.length;
    let order: Uint32Array;
    if (this.options.shuffle === false) {
      order = new Uint32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
    } else order = epochPermutation(n, this.seed, epoch);
    const out = new Uint32Array(this.size);
    // Position k of the padded order is order[k mod n]: torch repeats the head as often as needed.
    for (let j = 0; j < this.size; j++) out[j] = order[(this.rank + j * this.worldSize) % n];
    return out;
  }

  /** This rank's batches for `epoch`: consecutive slices of `indices(epoch)`. */
  batches(epoch: number, batchSize: number, dropLast = false): Uint32Array[] {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`batchSize must be ≥ 1, got ${batchSize}`);
    const idx = this.indices(epoch);
    const out: Uint32Array[] = [];
    for (let s = 0; s < idx.length; s += batchSize) {
      if (dropLast && s + batchSize > idx.length) break;
      out.push(idx.subarray(s, s + batchSize));
    }
    return out;
  }
}
