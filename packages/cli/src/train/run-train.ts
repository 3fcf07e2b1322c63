// Training from the command line: the data through the datasets package's reader and loader, the model
// from an HF llava folder, the strategy and LoRA as the tutorial sets them, then the trainer — in this
// process for one rank, or over worker-thread ranks with ZeRO-2. The final model or adapter goes to the
// output folder, as HF Trainer's save_model does at the end of the tutorial's run.py.
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend, siblingEntry } from "@llava-ts/core";
import {
  LlavaDataLoader,
  LlavaDataset,
  type LoaderStats,
  type OnError,
  type ProcessorSpec,
  type RecordFormat,
} from "@llava-ts/datasets";
import { LlavaForConditionalGeneration, readLlavaConfig } from "@llava-ts/llava";
import { applyLora, type LoraConfigInput, saveAdapter } from "@llava-ts/lora";
import {
  formatStrategySummary,
  type PlainTrainerOptions,
  type Strategy,
  Trainer,
  trainZero2,
} from "@llava-ts/trainer";
import type { CliIO } from "../io.js";
import { copyModelFiles, isWeightFile } from "../llava-session.js";
import type { CliRankDataArgs } from "./rank-data.js";

export interface TrainOptions {
  model: string;
  data: string;
  images?: string;
  imagePrefix?: string;
  format?: RecordFormat;
  onError?: OnError;
  strategy: Strategy;
  outputDir?: string;
  ranks: number;
  /** ZeRO-2 ranks as worker threads (default) or processes over TCP (one per GPU: rank r sees GPU r). */
  launch?: "threads" | "processes";
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
  saveStrategy: "steps" | "epoch" | "no";
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
  /** Progress bar on stderr (default true). */
  progress?: boolean;
}

export interface TrainOutcome {
  losses: number[];
  globalStep: number;
  /** Where the final model (or adapter) was written. */
  saved?: string;
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

export async function runTrain(o: TrainOptions, io: CliIO): Promise<TrainOutcome> {
  const backend = await initBackend();
  const dataset = LlavaDataset.open({
    file: o.data,
    format: o.format,
    images: o.images === undefined ? undefined : { path: o.images, prefix: o.imagePrefix },
    onError: o.onError,
  });
  const config = readLlavaConfig(o.model);
  const padTokenId = config.pad_token_id ?? 0;
  const world = o.ranks;
  io.stdout.write(
    `training ${o.model} (${o.strategy}) on ${dataset.length} records of ${o.data}; backend ${backend}, ${world} rank(s)${world > 1 ? ` as ${o.launch ?? "threads"}` : ""}\n`,
  );
  const lora = o.strategy === "use_lora" ? loraConfigInput(o.lora) : undefined;
  const steps = o.maxSteps;
  const microPerEpoch = Math.ceil(dataset.length / (o.batchSize * world));
  const optimizerStepsPerEpoch = Math.ceil(microPerEpoch / o.gradientAccumulationSteps);
  const total = steps ?? o.epochs * optimizerStepsPerEpoch;
  const saveSteps =
    o.saveStrategy === "no" ? 0 : o.saveStrategy === "epoch" ? optimizerStepsPerEpoch : o.saveSteps;
  const trainer: PlainTrainerOptions = {
    outputDir: o.outputDir,
    optimizer: { lr: o.learningRate, weightDecay: o.weightDecay, betas: o.betas, eps: o.eps },
    schedule: {
      type: o.scheduler,
      warmupSteps: o.warmupSteps,
      warmupRatio: o.warmupSteps === undefined ? o.warmupRatio : undefined,
    },
    gradientAccumulationSteps: o.gradientAccumulationSteps,
    maxGradNorm: o.maxGradNorm,
    maxSteps: total,
    seed: o.seed,
    saveSteps,
    saveTotalLimit: o.saveTotalLimit,
    saveAtEnd: o.saveStrategy !== "no",
    loggingSteps: o.loggingSteps,
    progress: o.progress ?? true,
  };
  const processorSpec = {
    tokenizer: o.model,
    imageProcessor: o.model,
    llava: { imageSeqLength: config.image_seq_length },
  };
  let outcome: TrainOutcome;
  if (world === 1) outcome = await trainHere(o, dataset, processorSpec, padTokenId, trainer, lora, io);
  else {
    // ZeRO-2: every rank opens the dataset and reads its own shard (rank-data.ts), nothing up front.
    const args: CliRankDataArgs = {
      file: o.data,
      format: o.format,
      images: o.images === undefined ? undefined : { path: o.images, prefix: o.imagePrefix },
      onError: o.onError,
      processor: processorSpec,
      padTokenId,
      batchSize: o.batchSize,
      seed: o.seed,
      numWorkers: o.numWorkers,
    };
    const result = await trainZero2({
      worldSize: world,
      launch: o.launch,
      // One GPU per process when tfjs-node-gpu is installed (ignored by the CPU backends).
      env: o.launch === "processes" ? (rank) => ({ CUDA_VISIBLE_DEVICES: String(rank) }) : undefined,
      modelDir: o.model,
      strategy: o.strategy,
      data: { module: fileURLToPath(siblingEntry("rank-data", import.meta.url)), args },
      lora,
      freezeProjector: o.lora.freezeProjector,
      resumeFrom: o.resumeFrom,
      trainer: { ...trainer, epochs: o.epochs },
    });
    outcome = { losses: result.losses, globalStep: result.globalStep };
    if (o.outputDir && result.checkpoint) outcome.saved = finalFromCheckpoint(result.checkpoint, o);
    reportRanks(result.dataStats as LoaderStats[], io);
  }
  if (world === 1) report(dataset, io);
  if (outcome.saved)
    io.stdout.write(`saved ${o.strategy === "use_lora" ? "adapter" : "model"} to ${outcome.saved}\n`);
  return outcome;
}

async function trainHere(
  o: TrainOptions,
  dataset: LlavaDataset,
  processor: ProcessorSpec,
  padTokenId: number,
  options: PlainTrainerOptions,
  lora: LoraConfigInput | undefined,
  io: CliIO,
): Promise<TrainOutcome> {
  const loader = new LlavaDataLoader({
    dataset,
    processor,
    batchSize: o.batchSize,
    collate: { padTokenId },
    seed: o.seed,
    numWorkers: o.numWorkers,
  });
  const model = LlavaForConditionalGeneration.fromPretrained(o.model);
  try {
    const trainer = new Trainer(model, {
      ...options,
      progress: options.progress,
      strategy: o.strategy,
      strategyOptions: {
        lora: lora ? (m) => applyLora(m, lora, { seed: o.seed }) : undefined,
        freezeProjector: o.lora.freezeProjector,
      },
    });
    if (trainer.summary) io.stdout.write(`${formatStrategySummary(trainer.summary)}\n`);
    const result = await trainer.train(loader, { resumeFrom: o.resumeFrom });
    const stats = loader.stats();
    io.stdout.write(
      `data loading waited ${(100 * stats.waitFraction).toFixed(1)}% of the time (${stats.batches} batches)\n`,
    );
    let saved: string | undefined;
    if (o.outputDir) {
      mkdirSync(o.outputDir, { recursive: true });
      if (o.strategy === "use_lora") await saveAdapter(model, o.outputDir);
      else {
        await model.savePretrained(o.outputDir);
        copyModelFiles(o.model, o.outputDir);
      }
      saved = o.outputDir;
    }
    return { losses: result.losses, globalStep: result.globalStep, saved };
  } finally {
    await loader.close();
    model.dispose();
  }
}

/** The last checkpoint's model or adapter, copied to the output folder (with the tokenizer files). */
function finalFromCheckpoint(checkpoint: string, o: TrainOptions): string {
  const out = o.outputDir!;
  for (const f of readdirSync(checkpoint)) {
    const adapter = f === "adapter_config.json" || f === "adapter_model.safetensors";
    const model = o.strategy !== "use_lora" && (isWeightFile(f) || f === "config.json");
    if (adapter || model) copyFileSync(join(checkpoint, f), join(out, f));
  }
  if (o.strategy !== "use_lora") copyModelFiles(o.model, out);
  return existsSync(out) ? out : checkpoint;
}

/** Each rank's loader: its waits, and the bad records it skipped (each rank reads its own shard). */
function reportRanks(stats: LoaderStats[], io: CliIO): void {
  stats.forEach((s, rank) => {
    if (!s) return;
    io.stdout.write(
      `rank ${rank}: data loading waited ${(100 * s.waitFraction).toFixed(1)}% of the time (${s.batches} batches)\n`,
    );
    if (s.skipped.total > 0)
      io.stdout.write(
        `rank ${rank}: skipped ${s.skipped.total} bad record(s): ${JSON.stringify(s.skipped.byReason)}\n`,
      );
  });
}

function report(dataset: LlavaDataset, io: CliIO): void {
  const summary = dataset.report.summary();
  if (summary.total > 0)
    io.stdout.write(`skipped ${summary.total} bad record(s): ${JSON.stringify(summary.byReason)}\n`);
}
