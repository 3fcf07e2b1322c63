// Trains an HF llava folder on 1..N ranks: the one entry behind `llava train`, the demo, the examples and
// the bench. One rank runs here, on a LocalCollective; N ranks run the same rank loop (llava-rank.ts) as
// worker threads over shared memory, or as processes over TCP (one per GPU), with ZeRO-2.
import type { BackendName } from "@llava-ts/core";
import { siblingEntry } from "@llava-ts/core/internal";
import type { StrategySummary } from "../apply-strategy.js";
import type { LogEntry } from "../checkpoint/trainer-state.js";
import { TrainingError } from "../training-error.js";
import { LocalCollective } from "../zero2/collective/local-collective.js";
import { launchProcesses } from "../zero2/launch/launch-processes.js";
import { launchRanks } from "../zero2/launch/launch-ranks.js";
import { type LlavaRankResult, type LlavaRunArgs, trainLlavaRank } from "./llava-rank.js";
import { rankDataKind } from "./rank-data.js";

export interface TrainLlavaOptions extends LlavaRunArgs {
  /** Data-parallel ranks (ZeRO-2). Default 1: trains in this process. */
  ranks?: number;
  /**
   * N ranks as "threads" (default: worker threads of this process over shared memory, one wasm core each)
   * or "processes" (one Node process per rank over TCP; e.g. one per GPU with @tensorflow/tfjs-node-gpu,
   * pinned by `env`). Processes get their arguments as JSON: data as { dataset } or { module }.
   */
  launch?: "threads" | "processes";
  /** launch "processes": extra environment per rank, e.g. `(r) => ({ CUDA_VISIBLE_DEVICES: String(r) })`. */
  env?: (rank: number) => Record<string, string>;
  /** Float32 values per rank per communication bucket. Default 1e8 (DeepSpeed's reduce_bucket_size). */
  bucketSize?: number;
  /** Longest a rank waits for the others at a barrier. Default 30 min. */
  timeoutMs?: number;
  /** Lines for the user from rank 0: the trainable parameters per part. */
  log?: (line: string) => void;
}

export interface TrainLlavaResult {
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
  summary: StrategySummary;
  backend: BackendName;
  globalStep: number;
  /** The last checkpoint written, if any. */
  checkpoint?: string;
  /** Where the final model (or adapter, for use_lora) was written: trainer.outputDir. */
  saved?: string;
  /** HF's log_history: one entry per logged step (a loss curve's points). */
  logHistory: LogEntry[];
  params?: Record<string, Float32Array>;
  /** Each rank's data `stats()` (a LlavaDataLoader's waits and skipped records), when it has one. */
  dataStats: unknown[];
  /** With `eval`: the final model's evaluation, and the best one during training. */
  evalMetrics?: Record<string, number>;
  best?: { metric: number; step: number; checkpoint?: string };
  /** Each rank's micro-batches that had no loss token (all their records skipped) and were passed over. */
  emptyMicroBatches: number[];
}

export async function trainLlava(options: TrainLlavaOptions): Promise<TrainLlavaResult> {
  const { ranks = 1, launch = "threads", env, bucketSize, timeoutMs, log = () => {}, ...args } = options;
  if (!Number.isInteger(ranks) || ranks < 1)
    throw new TrainingError(`trainLlava: ranks must be ≥ 1, got ${ranks}`);
  if (launch !== "threads" && launch !== "processes")
    throw new TrainingError(
      `trainLlava: launch must be "threads" or "processes", got ${JSON.stringify(launch)}`,
    );
  const kind = rankDataKind(args.data);
  let results: LlavaRankResult[];
  if (ranks === 1) {
    results = [await trainLlavaRank({ rank: 0, worldSize: 1, collective: new LocalCollective(), args, log })];
  } else {
    const entry = siblingEntry("llava-rank-worker", import.meta.url);
    const onLog = (_rank: number, line: string) => log(line);
    if (launch === "processes") {
      if (kind === "batches")
        throw new TrainingError(
          'trainLlava: launch "processes" passes arguments as JSON; give data as { dataset } or { module }, not { batches }',
        );
      const job = await launchProcesses<LlavaRunArgs, LlavaRankResult>({
        worldSize: ranks,
        entry,
        args,
        env,
        collective: { timeoutMs, bucketSize },
        onLog,
      });
      results = await job.result;
    } else {
      const job = await launchRanks<LlavaRunArgs, LlavaRankResult>({
        worldSize: ranks,
        entry,
        args,
        bucketSize,
        collective: { timeoutMs },
        onLog,
      });
      results = await job.result;
    }
  }
  const r0 = results[0];
  return {
    losses: r0.losses,
    stepMs: results.map((r) => r.stepMs),
    commMs: results.map((r) => r.commMs),
    setupMs: results.map((r) => r.setupMs),
    stateSizes: results.map((r) => r.stateSize),
    trainable: r0.trainable,
    summary: r0.summary,
    backend: r0.backend,
    globalStep: r0.globalStep,
    checkpoint: r0.checkpoint,
    saved: r0.saved,
    logHistory: r0.logHistory,
    params: r0.params,
    dataStats: results.map((r) => r.dataStats),
    evalMetrics: r0.evalMetrics,
    best: r0.best,
    emptyMicroBatches: results.map((r) => r.emptyMicroBatches),
  };
}
