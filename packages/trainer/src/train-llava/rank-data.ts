// Where a rank of trainLlava gets its micro-batches, as each DDP process runs its own DataLoader: its rows
// of global batches handed over, its shard of a LLaVA dataset through a LlavaDataLoader (processed with the
// model folder's tokenizer and image processor), or a module of your own.
import { workerEntryUrl } from "@llava-ts/core/internal";
import type { LlavaBatch } from "@llava-ts/datasets";
import { type DatasetSpec, LlavaDataLoader, LlavaDataset } from "@llava-ts/datasets";
import { llavaImageMode, readLlavaConfig } from "@llava-ts/llava";
import type { TrainData } from "../batch-stream.js";
import { TrainingError } from "../training-error.js";
import { rankRows } from "../zero2/rank-data.js";

/**
 * A LLaVA dataset (the datasets package's spec: file, format, images, onError, mode) that every rank
 * opens, each reading its own shard (torch's DistributedSampler split) through a LlavaDataLoader.
 */
export interface LlavaDataSpec extends DatasetSpec {
  /** Rows per rank per micro-batch (HF's per_device_train_batch_size). */
  batchSize: number;
  /** Image decoding threads per rank. Default 0. */
  numWorkers?: number;
  /** Samples longer than this are cut to it (HF's model_max_length); default the tokenizer's. */
  modelMaxLength?: number;
}

/**
 * A rank's data: `batches` — collated global batches, each split by rows over the ranks (B must divide
 * by N; threads and one rank only, as they do not go through JSON); `dataset` — each rank reads its shard
 * of a LLaVA dataset; `module` — a path or file URL (a .ts module is bundled first) exporting
 * `openRankData(args, { rank, worldSize })` that returns TrainData<LlavaBatch>, e.g. a LlavaDataLoader. Every
 * rank must yield the same number of micro-batches per epoch. The data's `close()` is awaited after
 * training and its `stats()` returned per rank, when it has them.
 */
export type RankData =
  | { batches: readonly LlavaBatch[] }
  | { dataset: LlavaDataSpec }
  | { module: string; args?: unknown };

export type OpenedRankData = TrainData<LlavaBatch> & { close?(): unknown; stats?(): unknown };

export interface RankDataContext {
  rank: number;
  worldSize: number;
  /** The model folder, whose tokenizer and image processor prepare a dataset's samples. */
  modelDir: string;
  /** Shuffling seed (the trainer's). */
  seed: number;
}

/** Checks that `data` is exactly one of the RankData forms; returns which. */
export function rankDataKind(data: RankData | undefined): "batches" | "dataset" | "module" {
  const kinds = (["batches", "dataset", "module"] as const).filter((k) => data && k in data);
  if (kinds.length !== 1)
    throw new TrainingError(
      `trainLlava: data must be one of { batches }, { dataset } or { module }, got ${data ? `{ ${Object.keys(data).join(", ")} }` : "none"}`,
    );
  if (kinds[0] === "batches" && !(data as { batches: LlavaBatch[] }).batches.length)
    throw new TrainingError("trainLlava: data.batches is empty");
  return kinds[0];
}

export async function openRankData(data: RankData, ctx: RankDataContext): Promise<OpenedRankData> {
  const { rank, worldSize } = ctx;
  if ("batches" in data) return data.batches.map((b) => rankRows(b, rank, worldSize));
  if ("dataset" in data) return openDataset(data.dataset, ctx);
  let mod: { openRankData?: unknown };
  try {
    mod = await import((await workerEntryUrl(data.module)).href);
  } catch (e) {
    throw new TrainingError(`rank data module ${data.module} could not be loaded: ${(e as Error).message}`);
  }
  if (typeof mod.openRankData !== "function")
    throw new TrainingError(`rank data module ${data.module} does not export a function openRankData`);
  return (await mod.openRankData(data.args, { rank, worldSize })) as OpenedRankData;
}

function openDataset(
  { batchSize, numWorkers = 0, modelMaxLength, ...spec }: LlavaDataSpec,
  { rank, worldSize, modelDir, seed }: RankDataContext,
  shuffle = true,
): LlavaDataLoader {
  const config = readLlavaConfig(modelDir);
  const dataset = LlavaDataset.open(spec);
  return new LlavaDataLoader({
    dataset,
    processor: {
      tokenizer: modelDir,
      imageProcessor: modelDir,
      imageMode: llavaImageMode(config),
      llava: { imageSeqLength: config.image_seq_length, modelMaxLength },
    },
    batchSize,
    collate: { padTokenId: config.pad_token_id ?? 0 },
    seed,
    shuffle,
    numWorkers,
    rank,
    worldSize,
  });
}

/** A rank's shard of an evaluation set, in file order (no shuffling, the last batch kept). */
export function openEvalData(spec: LlavaDataSpec, ctx: RankDataContext): LlavaDataLoader {
  return openDataset(spec, ctx, false);
}
