// Runs ZeRO-2 training of a LLaVA checkpoint on N worker-thread ranks of this process and returns the
// global losses and per-rank step times: the entry point for the CLI, examples and `pnpm bench`.
import type { BackendName } from "@llava-ts/core";
import { siblingEntry } from "@llava-ts/core";
import type { LoraConfigInput } from "@llava-ts/lora";
import type { Strategy } from "../apply-strategy.js";
import type { Batch } from "../train-task.js";
import type { TrainerOptions } from "../trainer-options.js";
import { TrainingError } from "../training-error.js";
import { launchProcesses } from "../zero2/launch/launch-processes.js";
import { launchRanks } from "../zero2/launch/launch-ranks.js";
import type { LossWeighting } from "../zero2/zero2.js";

/** Trainer options that can cross into a worker (no functions). */
export type PlainTrainerOptions = Omit<
  TrainerOptions<Batch>,
  "task" | "saver" | "hooks" | "progress" | "strategy" | "strategyOptions"
> & {
  /** Rank 0's progress bar on stderr. Default false. */
  progress?: boolean;
};

export interface TrainZero2Options {
  /** Ranks, one backend each; on wasm one core each. */
  worldSize: number;
  /**
   * "threads" (default): worker threads of this process over shared memory. "processes": one Node process
   * per rank over TCP (launchProcesses; e.g. one per GPU with @tensorflow/tfjs-node-gpu, pinned by `env`).
   * Processes get their arguments as JSON, so their data must come from a RankDataSource.
   */
  launch?: "threads" | "processes";
  /** launch "processes": extra environment per rank, e.g. `(r) => ({ CUDA_VISIBLE_DEVICES: String(r) })`. */
  env?: (rank: number) => Record<string, string>;
  /** An HF llava checkpoint folder. */
  modelDir: string;
  strategy: Strategy;
  /** Global batches, one per micro-step; each is split by rows over the ranks (B must divide by worldSize)… */
  batches?: Batch[];
  /** …or each rank opens its own share of the data (a dataset loader sharded by rank): see RankDataSource. */
  data?: RankDataSource;
  trainer?: PlainTrainerOptions;
  /** use_lora: a PEFT adapter to load and train (e.g. fixtures/hf/llava-lora-init)… */
  adapterDir?: string;
  /** …or a new LoRA to inject. */
  lora?: LoraConfigInput;
  freezeProjector?: boolean;
  resumeFrom?: string;
  /** Default: LLAVA_BACKEND, else the best available (wasm here). */
  backend?: BackendName;
  weighting?: LossWeighting;
  consolidateOptimizer?: boolean;
  /** Float32 values per rank per communication bucket. Default 1e8 (DeepSpeed's reduce_bucket_size). */
  bucketSize?: number;
  /** Longest a rank waits for the others at a barrier. Default 30 min. */
  timeoutMs?: number;
  /** Rank 0 returns the trained parameters (tests, parity checks). */
  returnParams?: boolean;
}

/**
 * How each rank reads its own shard of the data, as DDP ranks each run their DataLoader: `module` (a path
 * or file URL; a .ts module is bundled first) exports
 * `openRankData(args, { rank, worldSize }): TrainData<Batch> | Promise<TrainData<Batch>>`, e.g. a datasets
 * `LlavaDataLoader` with `rank` and `worldSize`. Every rank must yield the same number of micro-batches
 * per epoch. An optional `close()` on the data is awaited after training, and an optional `stats()` is
 * returned per rank (the loader's skipped records and waits).
 */
export interface RankDataSource {
  module: string;
  /** Structured-cloned into every rank. */
  args?: unknown;
}

/** What crosses into each rank (structured-cloned for threads, JSON for processes). */
export type Zero2RankArgs = Omit<
  TrainZero2Options,
  "worldSize" | "bucketSize" | "timeoutMs" | "launch" | "env"
>;

export interface RankRunResult {
  backend: BackendName;
  /** Backend init + model load + strategy (ms). */
  setupMs: number;
  losses: number[];
  stepMs: number[];
  commMs: number[];
  stateSize: number;
  trainable: number;
  globalStep: number;
  checkpoint?: string;
  params?: Record<string, Float32Array>;
  /** What the rank's data source reported (its `stats()`), when it has one. */
  dataStats?: unknown;
}

export interface TrainZero2Result {
  /** Global loss per optimizer step. */
  losses: number[];
  /** stepMs[r][k]: rank r's wall time for step k (ms). */
  stepMs: number[][];
  /** commMs[r][k]: the part of stepMs[r][k] spent in collectives (including waiting for other ranks). */
  commMs: number[][];
  setupMs: number[];
  /** Optimizer state values held by each rank (2 × its partition). */
  stateSizes: number[];
  /** Trainable parameter values (the optimizer state over all ranks is 2× this). */
  trainable: number;
  backend: BackendName;
  globalStep: number;
  checkpoint?: string;
  params?: Record<string, Float32Array>;
  /** Each rank's data source `stats()`, for a RankDataSource that has one. */
  dataStats: unknown[];
}

export async function trainZero2(options: TrainZero2Options): Promise<TrainZero2Result> {
  const { worldSize, bucketSize, timeoutMs, launch = "threads", env, ...args } = options;
  if ((args.batches === undefined) === (args.data === undefined))
    throw new TrainingError(
      "trainZero2: give either batches or data (a RankDataSource), not both or neither",
    );
  if (args.batches && !args.batches.length) throw new TrainingError("trainZero2: no batches");
  const entry = siblingEntry("llava-rank-worker", import.meta.url);
  let job: { result: Promise<RankRunResult[]> };
  if (launch === "processes") {
    if (args.batches)
      throw new TrainingError(
        'trainZero2: launch "processes" passes arguments as JSON; give data (a RankDataSource), not batches',
      );
    job = await launchProcesses<Zero2RankArgs, RankRunResult>({
      worldSize,
      entry,
      args,
      env,
      collective: { timeoutMs, bucketSize },
    });
  } else if (launch === "threads")
    job = await launchRanks<Zero2RankArgs, RankRunResult>({
      worldSize,
      entry,
      args,
      bucketSize,
      collective: { timeoutMs },
    });
  else
    throw new TrainingError(
      `trainZero2: launch must be "threads" or "processes", got ${JSON.stringify(launch)}`,
    );
  const ranks = await job.result;
  const r0 = ranks[0];
  return {
    losses: r0.losses,
    stepMs: ranks.map((r) => r.stepMs),
    commMs: ranks.map((r) => r.commMs),
    setupMs: ranks.map((r) => r.setupMs),
    stateSizes: ranks.map((r) => r.stateSize),
    trainable: r0.trainable,
    backend: r0.backend,
    globalStep: r0.globalStep,
    checkpoint: r0.checkpoint,
    params: r0.params,
    dataStats: ranks.map((r) => r.dataStats),
  };
}
