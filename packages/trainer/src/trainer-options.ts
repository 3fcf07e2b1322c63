// Everything a training run is configured with, HF TrainingArguments' names in camelCase where one exists.
import type { NamePattern } from "@llava-ts/core";
import type { AdamWOptions, Optimizer, OptimizerParam } from "./adamw.js";
import type { Strategy, StrategyOptions } from "./apply-strategy.js";
import type { ModelSaver } from "./checkpoint/model-saver.js";
import type { TrainingSnapshot } from "./checkpoint/training-checkpoint.js";
import type { GradientBuffer } from "./gradient-buffer.js";
import type { ScheduleOptions } from "./lr-schedule.js";
import type { ProgressStream } from "./progress-bar.js";
import type { TrainTask } from "./train-task.js";

/** Where ZeRO-2 (or any data-parallel scheme) plugs in. */
export interface TrainerHooks {
  /** After the micro-batches' gradients are summed, before clipping: e.g. reduce-scatter and average. */
  reduceGradients?(grads: GradientBuffer, step: number): void | Promise<void>;
  /** The step's loss to log and return; ZeRO-2 gives the global one (its reduceGradients all-reduces it). */
  stepLoss?(localLoss: number, step: number): number;
  /** Global Σ g² for clipping and grad_norm; default: over the local buffer (ZeRO-2 all-reduces shards). */
  gradSumOfSquares?(grads: GradientBuffer): number | Promise<number>;
  /** Builds the optimizer over the trainable parameters (default AdamW); ZeRO-2 returns a partitioned one. */
  createOptimizer?(params: OptimizerParam[], options: AdamWOptions): Optimizer;
  /** Memory for the flat gradient buffer of `length` values (ZeRO-2: shared with the other ranks). */
  gradientStorage?(length: number): Float32Array | undefined;
  /** Whether this process writes metrics, the progress bar, the loss curve and (by default) checkpoints. */
  isMainProcess?: boolean;
  /**
   * Replaces checkpoint writing on every rank (ZeRO-2: rank 0 writes the model and trainer state, each
   * rank its optimizer partition, around a barrier); saveTrainingCheckpoint is the single-process version.
   */
  saveCheckpoint?(trainer: TrainingSnapshot, outputDir: string): Promise<string | undefined>;
}

export interface TrainerOptions<B> {
  /** Checkpoints, metrics.jsonl and loss-curve.png go here; nothing is written without it. */
  outputDir?: string;
  /** Sets trainable flags with applyStrategy; omit to train whatever is trainable now. */
  strategy?: Strategy;
  strategyOptions?: StrategyOptions;
  /** The loss per micro-batch; default llavaTask(model). */
  task?: TrainTask<B>;
  optimizer?: AdamWOptions & {
    /** Parameters without weight decay: default HF's (biases, norm weights); "none" = decay all. */
    noDecay?: NamePattern | "none";
  };
  schedule?: ScheduleOptions;
  /** Micro-batches per optimizer step (loss divided by it, as HF Trainer). Default 1. */
  gradientAccumulationSteps?: number;
  /** Clip the global gradient norm to this; 0 = no clipping. Default 1.0 (HF's max_grad_norm). */
  maxGradNorm?: number;
  /** Optimizer steps to take; wins over `epochs`. */
  maxSteps?: number;
  /** Passes over the data (needs a known epoch length unless maxSteps is given). Default 1. */
  epochs?: number;
  /** Seeds the trainer's Rng (saved and restored with checkpoints). Default 42 (HF's seed). */
  seed?: number;
  /** Checkpoint every N optimizer steps (0 = only at the end). */
  saveSteps?: number;
  /** Keep the newest K checkpoints. */
  saveTotalLimit?: number;
  /** Write a checkpoint when training ends. Default true (when there is an outputDir). */
  saveAtEnd?: boolean;
  /** Log (metrics, log_history, progress) every N steps. Default 1. */
  loggingSteps?: number;
  /** true (stderr, default), false, or a stream. */
  progress?: boolean | ProgressStream;
  /** Write loss-curve.png (and .svg) at the end. Default true when there is an outputDir. */
  lossCurve?: boolean;
  /** How the model goes into a checkpoint; default: full model, or the lora package's adapter format. */
  saver?: ModelSaver;
  hooks?: TrainerHooks;
}
