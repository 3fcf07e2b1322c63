// The trainer's view of data: any iterable or async iterable of batches (one pass, or re-iterated per
// epoch when it is re-iterable like an array), or an epoch source such as the datasets package's loader,
// which can start an epoch at a given batch so a resumed run reads exactly what it would have read.
import type { DataPosition } from "./checkpoint/trainer-state.js";

export interface EpochSource<B> {
  /** Micro-batches per epoch. */
  readonly length: number;
  /**
   * What the data position means, when the source knows: rows per micro-batch on each rank and the
   * shuffling seed. A checkpoint records them, and a resume with others is refused (the saved position
   * would point at other records).
   */
  readonly batchSize?: number;
  readonly seed?: number;
  epoch(epoch: number, startBatch?: number): AsyncIterable<B> | Iterable<B>;
}

export type TrainData<B> = EpochSource<B> | Iterable<B> | AsyncIterable<B>;

export interface PositionedBatch<B> {
  batch: B;
  epoch: number;
  /** Index of this micro-batch within its epoch. */
  index: number;
  /** Whether the epoch ends here (known only when the length is). */
  lastInEpoch: boolean;
}

export function isEpochSource<B>(data: TrainData<B>): data is EpochSource<B> {
  return (
    typeof (data as EpochSource<B>).epoch === "function" &&
    typeof (data as EpochSource<B>).length === "number"
  );
}

/** Micro-batches per epoch when known: an epoch source's length or an array's. */
export function epochLength<B>(data: TrainData<B>): number | undefined {
  if (isEpochSource(data) || Array.isArray(data)) return (data as { length: number }).length;
  return undefined;
}

/** A one-shot iterator (generator) cannot be replayed for a second epoch. */
function isReiterable<B>(data: Iterable<B> | AsyncIterable<B>): boolean {
  const it = data as { [Symbol.iterator]?: () => unknown; [Symbol.asyncIterator]?: () => unknown };
  const fn = it[Symbol.iterator] ?? it[Symbol.asyncIterator];
  return fn?.call(data) !== data;
}

/** Batches from `start` on, through `epochs` epochs (unbounded when undefined and the data allows). */
export async function* positionedBatches<B>(
  data: TrainData<B>,
  start: DataPosition,
  epochs?: number,
): AsyncGenerator<PositionedBatch<B>> {
  const length = epochLength(data);
  const replay = isEpochSource(data) || isReiterable(data as Iterable<B>);
  for (let epoch = start.epoch; epochs === undefined || epoch < epochs; epoch++) {
    const from = epoch === start.epoch ? start.batchInEpoch : 0;
    let index = from;
    let source: AsyncIterable<B> | Iterable<B>;
    let skip = 0;
    if (isEpochSource(data)) source = data.epoch(epoch, from);
    else {
      source = data;
      skip = from; // plain iterables are replayed from the start and fast-forwarded
    }
    for await (const batch of source) {
      if (skip > 0) {
        skip--;
        continue;
      }
      yield { batch, epoch, index, lastInEpoch: length !== undefined && index === length - 1 };
      index++;
    }
    if (index === from || !replay) return; // an empty epoch: the data is exhausted
  }
}
