// The communication a data-parallel rank needs, as torch.distributed / NCCL name it. Every rank calls the
// same operations in the same order; results are identical on every rank (reductions sum in rank order).
// Async so a network transport fits the same interface; the shared-memory one completes synchronously.
import { LlavaError } from "@llava-ts/core";

export type ReduceOp = "sum" | "avg" | "max";

export interface Collective {
  readonly rank: number;
  readonly worldSize: number;
  /**
   * Reduces `input` (the full flat array, same length on every rank) across ranks and leaves in `output`
   * only this rank's partition, `partitionRange(input.length, worldSize, rank)`.
   */
  reduceScatter(input: Float32Array, output: Float32Array, op?: ReduceOp): Promise<void>;
  /** In place: this rank's partition of `data` is sent, every other partition is overwritten by its owner's. */
  allGather(data: Float32Array): Promise<void>;
  /** In place: every rank ends with the reduction of everyone's `data`. */
  allReduce(data: Float32Array | Float64Array, op?: ReduceOp): Promise<void>;
  /** In place: every rank ends with `root`'s `data`. */
  broadcast(data: Float32Array | Float64Array, root?: number): Promise<void>;
  barrier(): Promise<void>;
  /**
   * Optional (DeepSpeed's contiguous_gradients): a buffer of `length` values the other ranks can read,
   * for this rank to accumulate its gradients in; a reduceScatter from it sends nothing. `rank` (default
   * this one) gives another rank's buffer, to read. Undefined when the transport has none or `length`
   * does not fit.
   */
  contiguousGradients?(length: number, rank?: number): Float32Array | undefined;
}

/** The half-open range [start, end) of a flat array of `total` values that `rank` owns (sizes differ by ≤ 1). */
export function partitionRange(total: number, worldSize: number, rank: number): [number, number] {
  return [Math.floor((rank * total) / worldSize), Math.floor(((rank + 1) * total) / worldSize)];
}

/**
 * reduceScatter's contract, for every transport: this rank's partition [lo, hi) of `input`, after checking
 * that `output` holds exactly that many values.
 */
export function scatterPartition(
  input: Float32Array,
  output: Float32Array,
  worldSize: number,
  rank: number,
): [number, number] {
  const [lo, hi] = partitionRange(input.length, worldSize, rank);
  if (output.length !== hi - lo)
    throw new CollectiveError(
      `reduceScatter: output has ${output.length} values, partition [${lo}, ${hi}) of ${input.length} needs ${hi - lo}`,
      rank,
    );
  return [lo, hi];
}

/** A collective could not complete: another rank failed, or a wait timed out. */
export class CollectiveError extends LlavaError {
  override name = "CollectiveError";
  constructor(
    message: string,
    /** The rank that raised it. */
    readonly rank: number,
    /** The rank whose failure aborted the job, when known. */
    readonly failedRank?: number,
  ) {
    super(`rank ${rank}: ${message}`);
  }
}
