// The training loop: micro-batches → loss under a gradient tape (trainable variables only) → summed
// gradients → (data-parallel reduce hook) → clip → AdamW with the scheduled lr → log → checkpoint.
// Every step's inputs (weights, optimizer state, lr, data position, RNG) are checkpointed, so a resumed
// run computes exactly what the uninterrupted one would have.

import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Module, Rng } from "@llava-ts/core";
import { accumulateGradients } from "./accumulate-gradients.js";
import { AdamW, type Optimizer, type OptimizerParam } from "./adamw.js";
import { applyStrategy, type StrategySummary } from "./apply-strategy.js";
import { epochLength, positionedBatches, type TrainData } from "./batch-stream.js";
import { latestCheckpoint } from "./checkpoint/checkpoint-dir.js";
import { defaultSaver, type ModelSaver } from "./checkpoint/model-saver.js";
import type { DataPosition, LogEntry } from "./checkpoint/trainer-state.js";
import { type RunInfo, resumeTraining, saveTrainingCheckpoint } from "./checkpoint/training-checkpoint.js";
import { clipCoefficient, GradientBuffer } from "./gradient-buffer.js";
import { type LlavaLike, llavaTask } from "./llava-task.js";
import { writeLossCurve } from "./loss-curve.js";
import { LrSchedule } from "./lr-schedule.js";
import { MetricsLogger } from "./metrics-logger.js";
import { ProgressBar } from "./progress-bar.js";
import type { Batch, BatchCounts, TrainTask } from "./train-task.js";
import type { TrainerOptions } from "./trainer-options.js";
import { TrainingError } from "./training-error.js";
import { noDecayParameterNames } from "./weight-decay-groups.js";

export interface TrainResult {
  globalStep: number;
  /** Loss of each optimizer step taken in this call (Σ over micro-batches of loss / accumulation). */
  losses: number[];
  logHistory: LogEntry[];
  /** The checkpoint written at the end, if any. */
  checkpoint?: string;
}

export class Trainer<B = Batch> {
  readonly params: OptimizerParam[];
  readonly optimizer: Optimizer;
  readonly rng: Rng;
  readonly summary?: StrategySummary;
  readonly task: TrainTask<B>;
  readonly saver: ModelSaver;
  readonly grads: GradientBuffer;
  /** Optimizer steps completed (HF's global_step). */
  globalStep = 0;
  /** The next micro-batch to read. */
  position: DataPosition = { epoch: 0, batchInEpoch: 0 };
  logHistory: LogEntry[] = [];
  run: RunInfo = { maxSteps: 0, epochs: 1, batchSize: null };

  constructor(
    readonly model: Module,
    readonly options: TrainerOptions<B> = {},
  ) {
    if (options.strategy) this.summary = applyStrategy(model, options.strategy, options.strategyOptions);
    const { noDecay, ...adamw } = options.optimizer ?? {};
    const skipDecay = noDecayParameterNames(model, noDecay);
    this.params = model
      .trainableParameters()
      .map(([name, variable]) => ({ name, variable, decay: !skipDecay.has(name) }));
    if (this.params.length === 0)
      throw new TrainingError("nothing to train: no parameter of the model is trainable");
    this.optimizer = options.hooks?.createOptimizer?.(this.params, adamw) ?? new AdamW(this.params, adamw);
    const sizes = this.params.map((p) => p.variable.size);
    const total = sizes.reduce((a, b) => a + b, 0);
    this.grads = new GradientBuffer(sizes, options.hooks?.gradientStorage?.(total));
    this.rng = new Rng(options.seed ?? 42);
    this.task = options.task ?? (llavaTask(model as LlavaLike) as unknown as TrainTask<B>);
    this.saver = options.saver ?? defaultSaver(model);
    for (const key of [
      "gradientAccumulationSteps",
      "maxSteps",
      "epochs",
      "saveSteps",
      "loggingSteps",
    ] as const) {
      const v = options[key];
      if (v !== undefined && (!Number.isInteger(v) || v < (key === "saveSteps" ? 0 : 1)))
        throw new TrainingError(`${key} must be a positive integer, got ${v}`);
    }
  }

  private get isMain(): boolean {
    return this.options.hooks?.isMainProcess ?? true;
  }

  /** Trains until maxSteps / the epochs are done; `resumeFrom` is a checkpoint folder or "latest". */
  async train(data: TrainData<B>, options: { resumeFrom?: string } = {}): Promise<TrainResult> {
    const o = this.options;
    if (options.resumeFrom) await this.resume(options.resumeFrom);
    const accum = o.gradientAccumulationSteps ?? 1;
    const length = epochLength(data);
    const epochs = o.maxSteps === undefined ? (o.epochs ?? 1) : undefined;
    const total = o.maxSteps ?? (length !== undefined ? epochs! * Math.ceil(length / accum) : undefined);
    if (total === undefined && (o.schedule?.type ?? "constant") !== "constant")
      throw new TrainingError(`a ${o.schedule?.type} schedule needs maxSteps or data of known length`);
    const baseLr = (this.optimizer as Partial<AdamW>).lr ?? o.optimizer?.lr ?? 1e-3;
    const schedule = new LrSchedule(baseLr, total ?? 0, o.schedule);
    this.run = { ...this.run, maxSteps: total ?? 0, epochs: epochs ?? 0 };
    const out = this.isMain ? o.outputDir : undefined;
    const metrics = out ? new MetricsLogger(join(out, "metrics.jsonl")) : undefined;
    const bar =
      this.isMain && o.progress !== false
        ? new ProgressBar(o.progress === true ? undefined : o.progress)
        : undefined;
    const logEvery = o.loggingSteps ?? 1;
    const stream = positionedBatches(data, this.position, epochs);
    const losses: number[] = [];
    const started = performance.now();
    let window = { loss: 0, steps: 0 };
    let savedAt = -1;
    try {
      while (total === undefined || this.globalStep < total) {
        const step = this.globalStep + 1;
        const t0 = performance.now();
        let waitMs = 0;
        const counts: BatchCounts = { samples: 0, tokens: 0, images: 0 };
        this.grads.reset();
        let loss = 0;
        let micro = 0;
        while (micro < accum) {
          const w0 = performance.now();
          const next = await stream.next();
          waitMs += performance.now() - w0;
          if (next.done) break;
          const { batch, epoch, index, lastInEpoch } = next.value;
          loss += accumulateGradients(this.task.prepare(batch), this.params, this.grads, {
            accum,
            step,
            micro,
          });
          const c = this.task.count(batch);
          counts.samples += c.samples;
          counts.tokens += c.tokens;
          counts.images += c.images;
          this.run.batchSize ??= c.samples;
          micro++;
          this.position = lastInEpoch
            ? { epoch: epoch + 1, batchInEpoch: 0 }
            : { epoch, batchInEpoch: index + 1 };
          if (lastInEpoch) break; // an optimizer step never spans two epochs
        }
        if (micro === 0) break; // the data is exhausted
        const { norm: gradNorm, scale } = await this.reduceAndClip(step);
        loss = o.hooks?.stepLoss?.(loss, step) ?? loss;
        const lr = schedule.lr(this.globalStep);
        await this.optimizer.step(this.grads.gradients(), lr, scale);
        this.globalStep = step;
        losses.push(loss);
        window = { loss: window.loss + loss, steps: window.steps + 1 };
        const seconds = (performance.now() - t0) / 1000;
        const epochFloat = this.position.epoch + (length ? this.position.batchInEpoch / length : 0);
        if (step % logEvery === 0 || step === total) {
          const mean = window.loss / window.steps;
          window = { loss: 0, steps: 0 };
          // HF rounds the logged loss to 4 decimals; metrics.jsonl keeps full precision.
          this.logHistory.push({
            epoch: epochFloat,
            grad_norm: gradNorm,
            learning_rate: lr,
            loss: round4(mean),
            step,
          });
          metrics?.log({
            step,
            epoch: epochFloat,
            loss: mean,
            lr,
            grad_norm: gradNorm,
            tokens_per_second: counts.tokens / seconds,
            images_per_second: counts.images / seconds,
            samples_per_second: counts.samples / seconds,
            data_wait_ms: waitMs,
            step_ms: seconds * 1000,
          });
          bar?.update({
            step,
            total: total ?? step,
            loss: mean,
            lr,
            elapsedMs: performance.now() - started,
            stepsThisRun: losses.length,
          });
        }
        if (o.outputDir && o.saveSteps && step % o.saveSteps === 0) {
          await this.saveCheckpoint();
          savedAt = step;
        }
      }
    } finally {
      bar?.finish();
      await stream.return(undefined);
    }
    let checkpoint: string | undefined;
    if (o.outputDir && (o.saveAtEnd ?? true) && savedAt !== this.globalStep)
      checkpoint = await this.saveCheckpoint();
    if (out && (o.lossCurve ?? true)) {
      const points = this.logHistory
        .filter((e) => e.loss !== undefined)
        .map((e) => ({ step: e.step, loss: e.loss }));
      await writeLossCurve(join(out, "loss-curve.png"), points, { svgPath: join(out, "loss-curve.svg") });
    }
    return { globalStep: this.globalStep, losses, logHistory: this.logHistory, checkpoint };
  }

  /** Runs the reduce hook, measures the global norm (HF's grad_norm) and clips when asked. */
  /** The global gradient norm and the clipping factor the optimizer applies as it reads the gradients. */
  private async reduceAndClip(step: number): Promise<{ norm: number; scale: number }> {
    const hooks = this.options.hooks;
    await hooks?.reduceGradients?.(this.grads, step);
    const sumSq = hooks?.gradSumOfSquares
      ? await hooks.gradSumOfSquares(this.grads)
      : this.grads.sumOfSquares();
    const norm = Math.fround(Math.sqrt(sumSq));
    if (!Number.isFinite(norm))
      throw new TrainingError(`gradient norm is ${norm}; training stopped before the update`, step);
    const max = this.options.maxGradNorm ?? 1;
    return { norm, scale: max > 0 ? clipCoefficient(norm, max) : 1 };
  }

  /** Writes checkpoint-<globalStep> (atomically) and prunes old ones; returns its path. */
  /** Every rank calls this; without a hook only the main process writes (a data-parallel hook coordinates ranks). */
  async saveCheckpoint(): Promise<string | undefined> {
    const { outputDir, saveTotalLimit, hooks } = this.options;
    if (!outputDir) throw new TrainingError("saveCheckpoint: no outputDir configured");
    if (hooks?.saveCheckpoint) return hooks.saveCheckpoint(this, outputDir);
    return this.isMain ? saveTrainingCheckpoint(this, outputDir, saveTotalLimit) : undefined;
  }

  /** Restores weights, optimizer, schedule position, data position, RNG and log history. */
  async resume(from: string): Promise<void> {
    let dir = from;
    if (from === "latest") {
      const found = this.options.outputDir ? latestCheckpoint(this.options.outputDir) : undefined;
      if (!found) throw new TrainingError(`resumeFrom "latest": no checkpoint in ${this.options.outputDir}`);
      dir = found;
    }
    await resumeTraining(this, dir);
  }
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
