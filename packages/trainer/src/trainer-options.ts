// Everything a training run is configured with, HF TrainingArguments' names in camelCase where one exists.
import type { NamePattern } from "@llava-ts/core";
import type { AdamWOptions } from "./adamw.js";
import type { Strategy, StrategyOptions } from "./apply-strategy.js";
import type { ModelSaver } from "./checkpoint/model-saver.js";
import type { ScheduleOptions } from "./lr-schedule.js";
import type { ProgressStream } from "./progress-bar.js";
import type { LossWeighting } from "./rank-loss-weight.js";
import type { TrainTask } from "./train-task.js";
import type { StepResult } from "./training-log.js";
import type { Collective } from "./zero2/collective/collective.js";

/** HF's save_strategy: every `saveSteps` steps, at the end of each epoch, or never. */
export type SaveStrategy = "steps" | "epoch" | "no";

/** What a callback may ask for after a step (HF's TrainerControl). */
export interface StepControl {
  /** End training after this step (early stopping). */
  stop?: boolean;
  /** Write a checkpoint of this step. */
  save?: boolean;
}

/**
 * Called on every rank after each optimizer step is logged (HF's TrainerCallback.on_step_end): e.g. an
 * evaluation every N steps, early stopping. With N ranks every rank must return the same control, so
 * decide from values the ranks agree on (the step's global loss, or all-reduced metrics).
 */
export interface TrainerCallback {
  // biome-ignore lint/suspicious/noConfusingVoidType: a callback that only observes returns nothing
  onStepEnd?(step: StepResult): void | StepControl | Promise<void | StepControl>;
}

/**
 * Evaluation during training (HF's eval_strategy / eval_steps, load_best_model_at_end, EarlyStoppingCallback).
 * `run` is called on every rank at the same steps and must return metrics every rank agrees on (e.g. an
 * eval loss all-reduced over the ranks' shards); lower `metric` is better.
 */
export interface EvaluationOptions {
  run(): Promise<Record<string, number>>;
  /** "steps": every `steps` optimizer steps; "epoch": at the end of each epoch; "no": only when asked. */
  strategy: "steps" | "epoch" | "no";
  steps?: number;
  /** The metric that decides the best checkpoint and early stopping. Default "eval_loss". */
  metric?: string;
  /** Checkpoint at every evaluation that improves the metric, and load that one when training ends. */
  loadBestModelAtEnd?: boolean;
  /** Stop after this many evaluations in a row without improvement. */
  earlyStoppingPatience?: number;
}

export interface TrainerOptions<B> {
  /** Checkpoints and metrics.jsonl go here; nothing is written without it. */
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
  /** When to checkpoint; unless "no", also when training ends. Default "steps". */
  saveStrategy?: SaveStrategy;
  /** saveStrategy "steps": checkpoint every N optimizer steps (0 = only at the end). Default 0. */
  saveSteps?: number;
  /** Keep the newest K checkpoints. */
  saveTotalLimit?: number;
  /** Log (metrics, log_history, progress) every N steps. Default 1. */
  loggingSteps?: number;
  /** true (stderr, default), false, or a stream. Rank 0 only. */
  progress?: boolean | ProgressStream;
  /** How the model goes into a checkpoint; default: full model, or the lora package's adapter format. */
  saver?: ModelSaver;
  callbacks?: TrainerCallback[];
  evaluation?: EvaluationOptions;
  /** This rank's collective, for ZeRO-2 over N ranks; default one rank (LocalCollective). */
  collective?: Collective;
  /** N ranks: "tokens" (default) weights each rank's loss by its loss tokens, "mean" averages (DeepSpeed). */
  lossWeighting?: LossWeighting;
  /** N ranks: also write a consolidated optimizer.safetensors in each checkpoint. */
  consolidateOptimizer?: boolean;
}
