// How a rank gets its share of the data: rows of a global batch (N ranks × b rows = one rank × N·b), or
// every N-th micro-batch of an unsharded stream. (The datasets package's EpochSampler shards records by
// rank itself; its loader's batches need neither.)

import type { LlavaBatch } from "@llava-ts/datasets";
import { type EpochSource, isEpochSource, type TrainData } from "../batch-stream.js";
import { TrainingError } from "../training-error.js";

/**
 * Rows [rank·B/N, (rank+1)·B/N) of a collated batch, with their records and images (I/B images per row,
 * in order). The batch's skipped records are reported once, by rank 0.
 */
export function rankRows(batch: LlavaBatch, rank: number, worldSize: number): LlavaBatch {
  const { batchSize: B, seqLength: T, pixelShape } = batch;
  if (B % worldSize !== 0)
    throw new TrainingError(`a batch of ${B} rows cannot be split evenly over ${worldSize} ranks`);
  const [I, C, H, W] = pixelShape;
  if (I % B !== 0)
    throw new TrainingError(
      `${I} images for ${B} rows: rankRows needs the same number of images in every row`,
    );
  const rows = B / worldSize;
  const r0 = rank * rows;
  const per = I / B; // images per row
  const size = C * H * W;
  return {
    indices: batch.indices.slice(r0, r0 + rows),
    skipped: rank === 0 ? batch.skipped : [],
    truncated: batch.truncated.filter((t) => batch.indices.slice(r0, r0 + rows).includes(t.record)),
    batchSize: rows,
    seqLength: T,
    inputIds: batch.inputIds.slice(r0 * T, (r0 + rows) * T),
    attentionMask: batch.attentionMask.slice(r0 * T, (r0 + rows) * T),
    labels: batch.labels.slice(r0 * T, (r0 + rows) * T),
    pixelValues: batch.pixelValues.slice(r0 * per * size, (r0 + rows) * per * size),
    pixelShape: [rows * per, C, H, W],
  };
}

/** Micro-batches rank, rank + N, rank + 2N, … of `data`; an epoch of L batches gives each rank ⌊L/N⌋. */
export function everyNth<B>(data: TrainData<B>, rank: number, worldSize: number): TrainData<B> {
  const take = async function* (source: AsyncIterable<B> | Iterable<B>, skip: number, count?: number) {
    let i = 0;
    let yielded = 0;
    for await (const batch of source) {
      if (count !== undefined && yielded >= count) return;
      if (i >= skip && (i - rank) % worldSize === 0) {
        yielded++;
        yield batch;
      }
      i++;
    }
  };
  if (isEpochSource(data) || Array.isArray(data)) {
    const length = Math.floor((data as { length: number }).length / worldSize); // ranks must step together
    const epoch = (e: number, start = 0) => {
      const source = isEpochSource(data) ? data.epoch(e, 0) : (data as B[]);
      return take(source, rank + start * worldSize, length - start);
    };
    return { length, epoch } as EpochSource<B>;
  }
  return { [Symbol.asyncIterator]: () => take(data as AsyncIterable<B>, 0) };
}
