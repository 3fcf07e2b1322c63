// The RankDataSource of `llava train --ranks N`: every ZeRO-2 rank opens the dataset itself and reads its
// own shard through a LlavaDataLoader (torch's DistributedSampler split, its own decoding workers), as
// each DDP process runs its DataLoader. Nothing is processed up front, whatever the dataset's size.
// Built as its own tsup entry (dist/rank-data.js); from the sources it is bundled on the fly.
import {
  LlavaDataLoader,
  LlavaDataset,
  type OnError,
  type ProcessorSpec,
  type RecordFormat,
} from "@llava-ts/datasets";

export interface CliRankDataArgs {
  file: string;
  format?: RecordFormat;
  images?: { path: string; prefix?: string };
  onError?: OnError;
  processor: ProcessorSpec;
  padTokenId: number;
  /** Rows per rank per micro-batch (--per-device-train-batch-size). */
  batchSize: number;
  seed: number;
  numWorkers: number;
}

export function openRankData(
  args: CliRankDataArgs,
  { rank, worldSize }: { rank: number; worldSize: number },
): LlavaDataLoader {
  const dataset = LlavaDataset.open({
    file: args.file,
    format: args.format,
    images: args.images,
    onError: args.onError,
  });
  return new LlavaDataLoader({
    dataset,
    processor: args.processor,
    batchSize: args.batchSize,
    collate: { padTokenId: args.padTokenId },
    seed: args.seed,
    numWorkers: args.numWorkers,
    rank,
    worldSize,
  });
}
