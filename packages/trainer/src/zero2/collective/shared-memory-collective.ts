// Collective over shared memory for ranks that are threads of one process (worker_threads). Each rank
// owns one slot of a staging region; an operation streams its array through the slots bucket by bucket:
// write own slot → barrier → read everyone's slots → barrier. Nothing goes through postMessage.
// A second region holds one contiguous gradient buffer per rank (DeepSpeed's contiguous_gradients): a
// rank that accumulates its gradients there is reduce-scattered in place, each rank reading its own
// partition straight from everyone's buffer, with no copy through the slots.
// The barrier is a generation counter (Atomics.wait / notify); every wait also watches an abort word
// that the launcher sets when any rank fails, so a dead rank never leaves the others hanging.
import {
  type Collective,
  CollectiveError,
  partitionRange,
  type ReduceOp,
  scatterPartition,
} from "./collective.js";
import { formatMs } from "./format-ms.js";

// Control words (Int32).
const ABORT = 0; // 0 = running; r + 1 = rank r failed; -1 = aborted by the launcher
const COUNT = 1; // ranks arrived at the current barrier
const GEN = 2; // barrier generation
const STALLED = 3; // 0, or r + 1: rank r stopped answering (the others timed out waiting for it)
const CONTROL_WORDS = 4;
// Then one word per rank: the generation of the barrier it last arrived at, + 1 — so a rank that times
// out can tell which ranks never came, and name them instead of itself.

/** The shared buffers of one job; created by the launcher and handed to every rank (workerData). */
export interface CollectiveMemory {
  worldSize: number;
  /** Float32 values per rank slot: the bucket size of every operation. */
  bucketSize: number;
  control: SharedArrayBuffer;
  slots: SharedArrayBuffer;
  /** worldSize × bucketSize float32: each rank's contiguous gradient buffer (pages never touched cost nothing). */
  gradients: SharedArrayBuffer;
}

export function createCollectiveMemory(worldSize: number, bucketSize: number): CollectiveMemory {
  if (!Number.isInteger(worldSize) || worldSize < 1)
    throw new RangeError(`worldSize must be ≥ 1, got ${worldSize}`);
  if (!Number.isInteger(bucketSize) || bucketSize < 2)
    throw new RangeError(`bucketSize must be an integer ≥ 2, got ${bucketSize}`);
  const even = bucketSize + (bucketSize % 2); // float64 views need 8-byte aligned slots
  return {
    worldSize,
    bucketSize: even,
    control: new SharedArrayBuffer((CONTROL_WORDS + worldSize) * 4),
    slots: new SharedArrayBuffer(worldSize * even * 4),
    gradients: new SharedArrayBuffer(worldSize * even * 4),
  };
}

/** Marks the job failed (first caller wins) and wakes every waiting rank. Returns the recorded failure. */
export function abortCollective(memory: CollectiveMemory, failedRank: number | "launcher"): number {
  const control = new Int32Array(memory.control);
  const code = failedRank === "launcher" ? -1 : failedRank + 1;
  const previous = Atomics.compareExchange(control, ABORT, 0, code);
  Atomics.notify(control, GEN);
  return previous === 0 ? code : previous;
}

/** The first rank the others timed out waiting for, if any (a busy or stopped thread). */
export function stalledRank(memory: CollectiveMemory): number | undefined {
  const code = Atomics.load(new Int32Array(memory.control), STALLED);
  return code === 0 ? undefined : code - 1;
}

/** The rank whose failure aborted the job: a rank, "launcher", or undefined while running. */
export function abortedBy(memory: CollectiveMemory): number | "launcher" | undefined {
  const code = Atomics.load(new Int32Array(memory.control), ABORT);
  return code === 0 ? undefined : code === -1 ? "launcher" : code - 1;
}

export interface SharedMemoryCollectiveOptions {
  /**
   * Longest a rank waits at a barrier for the others (a slow step or a checkpoint write); then the job
   * fails naming the ranks that never came. Default 30 min (torch's and HF's ddp_timeout).
   */
  timeoutMs?: number;
  /** How often a waiting rank re-checks the abort word even without a wake-up. Default 200 ms. */
  pollMs?: number;
}

export class SharedMemoryCollective implements Collective {
  readonly worldSize: number;
  private readonly control: Int32Array;
  private readonly f32: Float32Array[];
  private readonly f64: Float64Array[];
  private readonly bucket: number;
  private readonly timeoutMs: number;
  private readonly pollMs: number;

  constructor(
    readonly memory: CollectiveMemory,
    readonly rank: number,
    options: SharedMemoryCollectiveOptions = {},
  ) {
    this.worldSize = memory.worldSize;
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.worldSize)
      throw new RangeError(`rank must be in [0, ${this.worldSize}), got ${rank}`);
    this.control = new Int32Array(memory.control);
    this.bucket = memory.bucketSize;
    const bytes = this.bucket * 4;
    this.f32 = [];
    this.f64 = [];
    for (let k = 0; k < this.worldSize; k++) {
      this.f32.push(new Float32Array(memory.slots, k * bytes, this.bucket));
      this.f64.push(new Float64Array(memory.slots, k * bytes, this.bucket / 2));
    }
    this.timeoutMs = options.timeoutMs ?? 30 * 60_000;
    this.pollMs = options.pollMs ?? 200;
  }

  async barrier(): Promise<void> {
    this.barrierSync();
  }

  contiguousGradients(length: number, rank = this.rank): Float32Array | undefined {
    if (!Number.isInteger(length) || length < 0 || length > this.bucket) return undefined;
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.worldSize) return undefined;
    return new Float32Array(this.memory.gradients, rank * this.bucket * 4, length);
  }

  /** Rank k's contiguous gradient buffer when `input` is this rank's (same offset into the region). */
  private contiguousViews(input: Float32Array): Float32Array[] | undefined {
    if (input.buffer !== this.memory.gradients || input.byteOffset !== this.rank * this.bucket * 4)
      return undefined;
    return Array.from({ length: this.worldSize }, (_, k) => this.contiguousGradients(input.length, k)!);
  }

  async reduceScatter(input: Float32Array, output: Float32Array, op: ReduceOp = "sum"): Promise<void> {
    const [lo, hi] = scatterPartition(input, output, this.worldSize, this.rank);
    if (this.worldSize === 1) {
      this.checkAbort();
      if (output.buffer !== input.buffer || output.byteOffset !== input.byteOffset) output.set(input); // identity
      return;
    }
    const views = this.contiguousViews(input);
    if (views) {
      // Every rank's gradients are in place: read this partition from all of them (in place is safe: the
      // others read only their own partitions of this buffer), then wait until they have read theirs.
      this.barrierSync();
      reduceSlots(views, lo, hi, output, op);
      this.barrierSync();
      return;
    }
    this.chunks(input.length, this.bucket, (c0, c1) => {
      this.f32[this.rank].set(input.subarray(c0, c1));
      this.barrierSync();
      const a = Math.max(lo, c0);
      const b = Math.min(hi, c1);
      if (a < b) reduceSlots(this.f32, a - c0, b - c0, output.subarray(a - lo, b - lo), op);
      this.barrierSync(); // the slots may be overwritten only once every owner has read them
    });
  }

  async allGather(data: Float32Array): Promise<void> {
    if (this.worldSize === 1) return this.checkAbort(); // one rank owns everything
    const [lo, hi] = partitionRange(data.length, this.worldSize, this.rank);
    const staging = new Float32Array(this.memory.slots, 0, this.bucket * this.worldSize); // partitions are disjoint
    const size = staging.length;
    this.chunks(data.length, size, (c0, c1) => {
      const a = Math.max(lo, c0);
      const b = Math.min(hi, c1);
      if (a < b) staging.set(data.subarray(a, b), a - c0);
      this.barrierSync();
      if (c0 < lo) data.set(staging.subarray(0, Math.min(lo, c1) - c0), c0);
      if (c1 > hi) data.set(staging.subarray(Math.max(hi, c0) - c0, c1 - c0), Math.max(hi, c0));
      this.barrierSync();
    });
  }

  async allReduce(data: Float32Array | Float64Array, op: ReduceOp = "sum"): Promise<void> {
    if (this.worldSize === 1) return this.checkAbort();
    const slots = data instanceof Float64Array ? this.f64 : this.f32;
    this.chunks(data.length, slots[0].length, (c0, c1) => {
      (slots[this.rank] as Float32Array).set(data.subarray(c0, c1) as Float32Array);
      this.barrierSync();
      reduceSlots(slots, 0, c1 - c0, data.subarray(c0, c1), op); // same order everywhere → same bits
      this.barrierSync();
    });
  }

  async broadcast(data: Float32Array | Float64Array, root = 0): Promise<void> {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize)
      throw new CollectiveError(`broadcast: root must be in [0, ${this.worldSize}), got ${root}`, this.rank);
    if (this.worldSize === 1) return this.checkAbort();
    const slot = data instanceof Float64Array ? this.f64[0] : this.f32[0];
    this.chunks(data.length, slot.length, (c0, c1) => {
      if (this.rank === root) (slot as Float32Array).set(data.subarray(c0, c1) as Float32Array);
      this.barrierSync();
      if (this.rank !== root) data.set(slot.subarray(0, c1 - c0) as Float32Array, c0);
      this.barrierSync();
    });
  }

  /** Calls `body` for each chunk; an empty array still takes one (empty) round so ranks stay in step. */
  private chunks(total: number, size: number, body: (c0: number, c1: number) => void): void {
    this.checkAbort();
    let c0 = 0;
    do {
      const c1 = Math.min(total, c0 + size);
      body(c0, c1);
      c0 = c1;
    } while (c0 < total);
  }

  private barrierSync(): void {
    const c = this.control;
    this.checkAbort();
    const gen = Atomics.load(c, GEN);
    Atomics.store(c, CONTROL_WORDS + this.rank, gen + 1);
    if (Atomics.add(c, COUNT, 1) + 1 === this.worldSize) {
      Atomics.store(c, COUNT, 0); // before the generation moves, so the next barrier counts from zero
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
      return;
    }
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(c, GEN) === gen) {
      this.checkAbort();
      const left = deadline - Date.now();
      if (left <= 0) {
        const missing: number[] = [];
        for (let r = 0; r < this.worldSize; r++)
          if (Atomics.load(c, CONTROL_WORDS + r) !== gen + 1) missing.push(r);
        if (missing.length === 0) continue; // the last one arrived just now
        // The stalled rank is the cause: recorded for the launcher, and named as the failed one.
        Atomics.compareExchange(c, STALLED, 0, missing[0] + 1);
        abortCollective(this.memory, this.rank);
        const who = missing.length === 1 ? `rank ${missing[0]}` : `ranks ${missing.join(", ")}`;
        throw new CollectiveError(
          `waited ${formatMs(this.timeoutMs)} at a barrier for ${who}, which stopped answering (the collective timeout)`,
          this.rank,
          missing[0],
        );
      }
      Atomics.wait(c, GEN, gen, Math.min(left, this.pollMs));
    }
    this.checkAbort(); // a rank may have failed right after the last arrival
  }

  private checkAbort(): void {
    const by = abortedBy(this.memory);
    if (by === undefined) return;
    const who = by === "launcher" ? "the launcher" : `rank ${by}`;
    throw new CollectiveError(`aborted: ${who} failed`, this.rank, by === "launcher" ? undefined : by);
  }
}

/** out[j] = op over ranks k (in rank order) of slots[k][from + j]; sums in double, rounded once. */
function reduceSlots(
  slots: readonly (Float32Array | Float64Array)[],
  from: number,
  to: number,
  out: Float32Array | Float64Array,
  op: ReduceOp,
): void {
  const n = slots.length;
  for (let j = 0, i = from; i < to; i++, j++) {
    let s = slots[0][i];
    if (op === "max") for (let k = 1; k < n; k++) s = Math.max(s, slots[k][i]);
    else {
      for (let k = 1; k < n; k++) s += slots[k][i];
      if (op === "avg") s /= n;
    }
    out[j] = s;
  }
}
