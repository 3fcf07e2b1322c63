// The rank entry trainZero2 starts — a worker thread, or a process with launch "processes": loads the
// LLaVA checkpoint on this rank's own TensorFlow.js backend, applies the strategy (and LoRA), and trains
// its rows of each global batch (or its shard of a RankDataSource) under ZeRO-2. Built as its own
// tsup entry (dist/llava-rank-worker.js); from the sources it is bundled on the fly (core's workerEntryUrl).
import { performance } from "node:perf_hooks";
import { initBackend, workerEntryUrl } from "@llava-ts/core";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import { applyLora, loadAdapter } from "@llava-ts/lora";
import type { TrainData } from "../batch-stream.js";
import type { Batch } from "../train-task.js";
import { Trainer } from "../trainer.js";
import { TrainingError } from "../training-error.js";
import type { Collective } from "../zero2/collective/collective.js";
import { isRankWorker, runRank } from "../zero2/launch/run-rank.js";
import { isRankProcess, runRankProcess } from "../zero2/launch/run-rank-process.js";
import { rankRows } from "../zero2/rank-data.js";
import { Zero2 } from "../zero2/zero2.js";
import type { RankDataSource, RankRunResult, Zero2RankArgs } from "./train-llava.js";

/** One rank of trainZero2, as a worker thread (shared memory) or a process (TCP). */
async function trainRank(ctx: {
  rank: number;
  worldSize: number;
  collective: Collective;
  args: Zero2RankArgs;
}): Promise<RankRunResult> {
  const { args, rank, worldSize, collective } = ctx;
  const t0 = performance.now();
  const backend = await initBackend({ backend: args.backend });
  const model = LlavaForConditionalGeneration.fromPretrained(args.modelDir);
  if (args.adapterDir) loadAdapter(model, args.adapterDir, { trainable: true });
  const lora = args.lora;
  const zero = new Zero2({
    collective,
    weighting: args.weighting,
    consolidateOptimizer: args.consolidateOptimizer,
  });
  const trainer = new Trainer(
    model,
    zero.trainerOptions(model, {
      ...args.trainer,
      strategy: args.strategy,
      strategyOptions: {
        freezeProjector: args.freezeProjector,
        lora: lora ? (m) => applyLora(m, lora) : undefined,
      },
      progress: rank === 0 && (args.trainer?.progress ?? false),
    }),
  );
  const setupMs = performance.now() - t0;
  const own = args.data
    ? await openRankData(args.data, rank, worldSize)
    : args.batches!.map((b) => rankRows(b, rank, worldSize));
  let result: Awaited<ReturnType<Trainer<Batch>["train"]>>;
  try {
    result = await trainer.train(zero.wrapData(own), { resumeFrom: args.resumeFrom });
  } finally {
    await (own as { close?: () => unknown }).close?.();
  }
  const dataStats = (own as { stats?: () => unknown }).stats?.();
  const trainable = trainer.params.reduce((n, p) => n + p.variable.size, 0);
  const params =
    rank === 0 && args.returnParams
      ? Object.fromEntries(trainer.params.map((p) => [p.name, p.variable.dataSync() as Float32Array]))
      : undefined;
  return {
    backend,
    setupMs,
    losses: zero.losses,
    stepMs: zero.stepMs,
    commMs: zero.commMs,
    stateSize: trainer.optimizer.stateSize,
    trainable,
    globalStep: result.globalStep,
    checkpoint: result.checkpoint,
    params,
    dataStats,
  };
}

if (isRankWorker()) runRank(trainRank);
else if (isRankProcess()) runRankProcess(trainRank);

/** This rank's data from a RankDataSource module. */
async function openRankData(
  source: RankDataSource,
  rank: number,
  worldSize: number,
): Promise<TrainData<Batch>> {
  let mod: { openRankData?: unknown };
  try {
    mod = await import((await workerEntryUrl(source.module)).href);
  } catch (e) {
    throw new TrainingError(`rank data module ${source.module} could not be loaded: ${(e as Error).message}`);
  }
  if (typeof mod.openRankData !== "function")
    throw new TrainingError(`rank data module ${source.module} does not export a function openRankData`);
  return (await mod.openRankData(source.args, { rank, worldSize })) as TrainData<Batch>;
}
