// Training from the command line: the tutorial's run.py + run_zero2.sh flags mapped once onto the
// trainer's trainLlava, which runs the same rank loop for --ranks 1 (in this process) and --ranks N
// (ZeRO-2 over threads or processes): strategy, LoRA, data, checkpoints and the final model or adapter in
// the output folder. The loss curve is drawn here from the run's log history.
import { initBackend } from "@llava-ts/core";
import {
  LlavaDataset,
  type LoaderStats,
  mergeSkipSummaries,
  type OnError,
  type RecordFormat,
} from "@llava-ts/datasets";
import type { LoraConfigInput } from "@llava-ts/lora";
import { type SaveStrategy, type Strategy, type TrainLlavaOptions, trainLlava } from "@llava-ts/trainer";
import { errorLine } from "../error-line.js";
import type { CliIO } from "../io.js";
import { datasetPromptFormat, writePromptFormat } from "../prompt-format.js";
import { writeRunLossCurve } from "./loss-curve.js";
import { loadTensorBoard, writeTensorBoardEvents } from "./tensorboard.js";

export interface TrainOptions {
  model: string;
  data: string;
  images?: string;
  imagePrefix?: string;
  format?: RecordFormat;
  onError?: OnError;
  /** Cut longer samples to this many tokens (HF's model_max_length); default the tokenizer's. */
  modelMaxLength?: number;
  strategy: Strategy;
  outputDir?: string;
  ranks: number;
  /** ZeRO-2 ranks as worker threads (default) or processes over TCP (one per GPU: rank r sees GPU r). */
  launch?: "threads" | "processes";
  /** ZeRO-2: seconds a rank waits for the others (HF's ddp_timeout). Default 1800. */
  ddpTimeout?: number;
  learningRate: number;
  weightDecay: number;
  betas: [number, number];
  eps: number;
  scheduler: "constant" | "linear" | "cosine";
  warmupRatio: number;
  warmupSteps?: number;
  maxGradNorm: number;
  epochs: number;
  maxSteps?: number;
  batchSize: number;
  gradientAccumulationSteps: number;
  numWorkers: number;
  saveStrategy: SaveStrategy;
  saveSteps: number;
  saveTotalLimit?: number;
  loggingSteps: number;
  seed: number;
  resumeFrom?: string;
  lora: {
    r: number;
    alpha: number;
    dropout: number;
    targetModules: string[] | string;
    freezeProjector?: boolean;
  };
  /** Recompute each layer in the backward pass (HF's --gradient_checkpointing). */
  gradientCheckpointing?: boolean;
  /** Frozen weights held in bfloat16 in host memory, float32 compute (see LlavaRunArgs.bf16). */
  bf16?: boolean;
  /** Cap on the wasm heap's live tensors, e.g. "3GB". */
  maxHeap?: string;
  /** Progress bar on stderr (default true). */
  progress?: boolean;
  /** Evaluation data and when to evaluate. */
  eval?: {
    data: string;
    images?: string;
    imagePrefix?: string;
    strategy: "no" | "steps" | "epoch";
    steps?: number;
    batchSize: number;
    loadBestModelAtEnd?: boolean;
    earlyStoppingPatience?: number;
  };
  /** Where metrics go besides metrics.jsonl: "tensorboard" event files (needs @tensorflow/tfjs-node). */
  reportTo?: "none" | "jsonl" | "tensorboard";
  /** ZeRO-2 communication bucket (values per rank), from --deepspeed's reduce_bucket_size. */
  bucketSize?: number;
}

export interface TrainOutcome {
  /** With --eval-data: the final model's evaluation. */
  evalMetrics?: Record<string, number>;
  losses: number[];
  globalStep: number;
  /** Where the final model (or adapter) was written. */
  saved?: string;
  /** The loss curve (PNG) drawn into the output folder. */
  lossCurve?: string;
}

export function loraConfigInput(o: TrainOptions["lora"]): LoraConfigInput {
  return {
    r: o.r,
    lora_alpha: o.alpha,
    lora_dropout: o.dropout,
    target_modules: o.targetModules,
    // The tutorial trains the projector in full beside the adapters (PEFT modules_to_save).
    modules_to_save: o.freezeProjector ? null : ["multi_modal_projector"],
  };
}

/** The flags as trainLlava's options: every choice of the run is made here, once, for any --ranks. */
export function trainLlavaOptions(o: TrainOptions, log: (line: string) => void): TrainLlavaOptions {
  return {
    ranks: o.ranks,
    launch: o.launch,
    timeoutMs: o.ddpTimeout === undefined ? undefined : o.ddpTimeout * 1000,
    // One GPU per process when tfjs-node-gpu is installed (ignored by the CPU backends).
    env: o.launch === "processes" ? (rank) => ({ CUDA_VISIBLE_DEVICES: String(rank) }) : undefined,
    modelDir: o.model,
    strategy: o.strategy,
    lora: o.strategy === "use_lora" ? loraConfigInput(o.lora) : undefined,
    freezeProjector: o.lora.freezeProjector,
    data: {
      dataset: {
        file: o.data,
        format: o.format,
        images: o.images === undefined ? undefined : { path: o.images, prefix: o.imagePrefix },
        onError: o.onError,
        batchSize: o.batchSize,
        numWorkers: o.numWorkers,
        modelMaxLength: o.modelMaxLength,
      },
    },
    resumeFrom: o.resumeFrom,
    gradientCheckpointing: o.gradientCheckpointing,
    bf16: o.bf16,
    maxHeap: o.maxHeap,
    bucketSize: o.bucketSize,
    eval: o.eval && {
      data: {
        file: o.eval.data,
        images: o.eval.images === undefined ? undefined : { path: o.eval.images, prefix: o.eval.imagePrefix },
        onError: o.onError,
        batchSize: o.eval.batchSize,
        // Cut as the training samples are: eval_loss measures the model on what it was trained to see.
        modelMaxLength: o.modelMaxLength,
      },
      strategy: o.eval.strategy,
      steps: o.eval.steps,
      loadBestModelAtEnd: o.eval.loadBestModelAtEnd,
      earlyStoppingPatience: o.eval.earlyStoppingPatience,
    },
    trainer: {
      outputDir: o.outputDir,
      optimizer: { lr: o.learningRate, weightDecay: o.weightDecay, betas: o.betas, eps: o.eps },
      schedule: {
        type: o.scheduler,
        warmupSteps: o.warmupSteps,
        warmupRatio: o.warmupSteps === undefined ? o.warmupRatio : undefined,
      },
      gradientAccumulationSteps: o.gradientAccumulationSteps,
      maxGradNorm: o.maxGradNorm,
      maxSteps: o.maxSteps,
      epochs: o.epochs,
      seed: o.seed,
      saveStrategy: o.saveStrategy,
      saveSteps: o.saveSteps,
      saveTotalLimit: o.saveTotalLimit,
      loggingSteps: o.loggingSteps,
      progress: o.progress ?? true,
    },
    log,
  };
}

export async function runTrain(o: TrainOptions, io: CliIO): Promise<TrainOutcome> {
  if (o.reportTo === "tensorboard") await loadTensorBoard(); // before hours of training, not after
  const backend = await initBackend();
  const ranks = o.ranks;
  io.stdout.write(
    `training ${o.model} (${o.strategy}) on ${o.data}; backend ${backend}, ${ranks} rank(s)${ranks > 1 ? ` as ${o.launch ?? "threads"}` : ""}\n`,
  );
  const result = await trainLlava(trainLlavaOptions(o, (line) => io.stdout.write(`${line}\n`)));
  reportData(result.dataStats as (LoaderStats | undefined)[], result.emptyMicroBatches, io);
  const outcome: TrainOutcome = { losses: result.losses, globalStep: result.globalStep, saved: result.saved };
  // The model first; then what is optional (curves, event files): a failure there warns and carries on.
  if (outcome.saved) {
    writePromptFormat(outcome.saved, promptFormatOfData(o)); // where inference puts <image>
    io.stdout.write(`saved ${o.strategy === "use_lora" ? "adapter" : "model"} to ${outcome.saved}\n`);
  }
  if (result.best)
    io.stdout.write(`best eval_loss ${result.best.metric.toFixed(4)} at step ${result.best.step}\n`);
  if (result.evalMetrics) outcome.evalMetrics = result.evalMetrics;
  const optional = async (what: string, write: () => Promise<string>) => {
    try {
      io.stdout.write(`${what}: ${await write()}\n`);
    } catch (e) {
      io.stderr.write(`llava train: warning: the ${what} was not written: ${errorLine(e)}\n`);
    }
  };
  if (o.outputDir && o.reportTo === "tensorboard")
    await optional("tensorboard events", () => writeTensorBoardEvents(o.outputDir!, result.logHistory));
  if (o.outputDir && result.logHistory.length)
    await optional("loss curve", async () => {
      outcome.lossCurve = await writeRunLossCurve(o.outputDir!, result.logHistory);
      return outcome.lossCurve;
    });
  return outcome;
}

/** What the training data does with `<image>` (its first 10,000 records). */
function promptFormatOfData(o: TrainOptions) {
  const dataset = LlavaDataset.open({
    file: o.data,
    format: o.format,
    images: o.images === undefined ? undefined : { path: o.images, prefix: o.imagePrefix },
  });
  try {
    return datasetPromptFormat(dataset);
  } finally {
    dataset.close();
  }
}

/**
 * Each rank's loader waits; then the bad records skipped and the records truncated over all ranks, each
 * record once (the last shard is padded with records another rank reads too), with an example per reason.
 */
function reportData(stats: (LoaderStats | undefined)[], emptyMicroBatches: number[], io: CliIO): void {
  const loaders = stats.filter((s): s is LoaderStats => s !== undefined);
  stats.forEach((s, rank) => {
    if (!s) return;
    const who = stats.length > 1 ? `rank ${rank}: ` : "";
    io.stdout.write(
      `${who}data loading waited ${(100 * s.waitFraction).toFixed(1)}% of the time (${s.batches} batches)\n`,
    );
  });
  const ranks = stats.length > 1 ? ` (over ${stats.length} ranks, each record once)` : "";
  const skipped = mergeSkipSummaries(
    loaders.map((s) => s.skipped),
    1,
  );
  if (skipped.total > 0) {
    const reasons = Object.entries(skipped.byReason).map(([r, n]) => `${r}: ${n}`);
    io.stdout.write(`skipped ${skipped.total} bad record(s)${ranks}: ${reasons.join(", ")}\n`);
    for (const e of skipped.examples) io.stdout.write(`  e.g. ${e.message}\n`);
  }
  const empty = emptyMicroBatches.reduce((a, b) => a + b, 0);
  if (empty > 0)
    io.stdout.write(`${empty} micro-batch(es) had no record left to train on and were passed over\n`);
  const truncated = new Set(loaders.flatMap((s) => s.truncatedRecords ?? []));
  if (truncated.size > 0)
    io.stdout.write(`truncated ${truncated.size} record(s) to model_max_length${ranks}\n`);
}
