// The training loop, one rank's (one rank is ZeRO-2 with N = 1): micro-batches → loss under a gradient
// tape (trainable variables only) → gradients summed in the optimizer's buffer → the partitioned AdamW
// (reduce-scatter, global norm and clipping, update, all-gather) → log → callbacks → checkpoint. Every
// step's inputs (weights, optimizer state, lr, data position, RNG) are checkpointed, so a resumed run
// computes exactly what the uninterrupted one would have, on any number of ranks.
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Module, Rng } from "@llava-ts/core";
import type { LlavaBatch } from "@llava-ts/datasets";
import { setLoraTraining } from "@llava-ts/lora";
import { accumulateGradients } from "./accumulate-gradients.js";
import type { OptimizerParam } from "./adamw.js";
import { applyStrategy, type StrategySummary } from "./apply-strategy.js";
import {
  epochLength,
  isEpochSource,
  type PositionedBatch,
  positionedBatches,
  type TrainData,
} from "./batch-stream.js";
import { CHECKPOINT_PREFIX, latestCheckpoint } from "./checkpoint/checkpoint-dir.js";
import { defaultSaver, type ModelSaver } from "./checkpoint/model-saver.js";
import type { DataOrder, DataPosition, LogEntry } from "./checkpoint/trainer-state.js";
import { type RunInfo, resumeTraining, saveTrainingCheckpoint } from "./checkpoint/training-checkpoint.js";
import { type LlavaLike, llavaTask } from "./llava-task.js";
import { LrSchedule } from "./lr-schedule.js";
import { rankLossWeight } from "./rank-loss-weight.js";
import type { BatchCounts, TrainTask } from "./train-task.js";
import type { StepControl, TrainerOptions } from "./trainer-options.js";
import { TrainingError } from "./training-error.js";
import { type StepResult, TrainingLog } from "./training-log.js";
import { noDecayParameterNames } from "./weight-decay-groups.js";
import { LocalCollective } from "./zero2/collective/local-collective.js";
import { TimedCollective } from "./zero2/collective/timed-collective.js";
import { PartitionedAdamW } from "./zero2/partitioned-adamw.js";

export interface TrainResult {
  globalStep: number;
  /** Loss of each optimizer step taken in this call (Σ over micro-batches of loss / accumulation). */
  losses: number[];
  /** Each step of this call as the log saw it (timings included). */
  steps: StepResult[];
  logHistory: LogEntry[];
  /** The last checkpoint written, if any. */
  checkpoint?: string;
}

export class Trainer<B = LlavaBatch> {
  readonly params: OptimizerParam[];
  readonly optimizer: PartitionedAdamW;
  /** This rank's collective (a LocalCollective for one rank), timed: a step's comm share is measured. */
  readonly collective: TimedCollective;
  readonly rng: Rng;
  readonly summary?: StrategySummary;
  readonly task: TrainTask<B>;
  readonly saver: ModelSaver;
  /** Optimizer steps completed (HF's global_step). */
  globalStep = 0;
  /** The next micro-batch to read. */
  position: DataPosition = { epoch: 0, batchInEpoch: 0 };
  logHistory: LogEntry[] = [];
  run: RunInfo = { maxSteps: 0, epochs: 1, batchSize: null };
  /** The best evaluation so far: its metric, step and checkpoint (HF's best_metric, best_model_checkpoint). */
  best?: { metric: number; step: number; checkpoint?: string };
  /** Evaluations in a row without improvement (HF's early_stopping_patience_counter). */
  private sinceBest = 0;
  /** What the data position counts in (set by train() from the data), for checkpoints and resume. */
  dataOrder?: DataOrder;
  /** This rank's micro-batches that had no loss token (all their records skipped) and were passed over. */
  emptyMicroBatches = 0;
  /** Loss tokens of the steps taken in this process, over all ranks. */
  lossTokensTrained = 0;

  constructor(
    readonly model: Module,
    readonly options: TrainerOptions<B> = {},
  ) {
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
    const save = options.saveStrategy ?? "steps";
    if (!["steps", "epoch", "no"].includes(save))
      throw new TrainingError(`saveStrategy must be steps, epoch or no, got ${JSON.stringify(save)}`);
    if (options.strategy) this.summary = applyStrategy(model, options.strategy, options.strategyOptions);
    const { noDecay, ...adamw } = options.optimizer ?? {};
    const skipDecay = noDecayParameterNames(model, noDecay);
    this.params = model
      .trainableParameters()
      .map(([name, variable]) => ({ name, variable, decay: !skipDecay.has(name) }));
    if (this.params.length === 0)
      throw new TrainingError("nothing to train: no parameter of the model is trainable");
    this.collective = new TimedCollective(options.collective ?? new LocalCollective());
    this.optimizer = new PartitionedAdamW(this.params, {
      ...adamw,
      collective: this.collective,
      consolidate: options.consolidateOptimizer,
    });
    this.rng = new Rng(options.seed ?? 42);
    this.task = options.task ?? (llavaTask(model as LlavaLike) as unknown as TrainTask<B>);
    this.saver = options.saver ?? defaultSaver(model);
  }

  /** Rank 0: writes checkpoints' shared files, metrics and the progress bar. */
  get isMain(): boolean {
    return this.collective.rank === 0;
  }

  /** Trains until maxSteps / the epochs are done; `resumeFrom` is a checkpoint folder or "latest". */
  async train(data: TrainData<B>, options: { resumeFrom?: string } = {}): Promise<TrainResult> {
    const o = this.options;
    if (isEpochSource(data))
      this.dataOrder = {
        rows: data.batchSize === undefined ? undefined : data.batchSize * this.collective.worldSize,
        seed: data.seed,
      };
    if (options.resumeFrom) await this.resume(options.resumeFrom);
    const accum = o.gradientAccumulationSteps ?? 1;
    const length = epochLength(data);
    const epochs = o.maxSteps === undefined ? (o.epochs ?? 1) : undefined;
    const total = o.maxSteps ?? (length !== undefined ? epochs! * Math.ceil(length / accum) : undefined);
    if (total === undefined && (o.schedule?.type ?? "constant") !== "constant")
      throw new TrainingError(`a ${o.schedule?.type} schedule needs maxSteps or data of known length`);
    const schedule = new LrSchedule(this.optimizer.lr, total ?? 0, o.schedule);
    this.run = { ...this.run, maxSteps: total ?? 0, epochs: epochs ?? 0 };
    const log = new TrainingLog(this.logHistory, {
      main: this.isMain,
      outputDir: o.outputDir,
      progress: o.progress,
      loggingSteps: o.loggingSteps,
      total,
      startStep: this.globalStep,
    });
    const stream = positionedBatches(data, this.position, epochs);
    const steps: StepResult[] = [];
    let checkpoint: string | undefined;
    let savedAt = -1;
    try {
      while (total === undefined || this.globalStep < total) {
        const r = await this.step(stream, schedule.lr(this.globalStep), length);
        if (!r) break; // the data is exhausted
        steps.push(r);
        log.record(r);
        const control = await this.callbacks(r);
        const evaluated = this.evalDue(r) ? await this.evaluate(log, r.epoch) : undefined;
        if (evaluated?.stop) control.stop = true;
        // With load_best_model_at_end every improvement is checkpointed, to be loaded at the end.
        const keepBest = evaluated?.improved && o.evaluation?.loadBestModelAtEnd && o.outputDir;
        if (this.saveDue(r) || control.save || keepBest) {
          // As HF's _save_checkpoint, the checkpoint's trainer_state.json already names itself the best.
          if (evaluated?.improved && this.best && o.outputDir)
            this.best.checkpoint = join(o.outputDir, `${CHECKPOINT_PREFIX}${r.step}`);
          checkpoint = await this.saveCheckpoint();
          savedAt = r.step;
        }
        if (control.stop) break;
      }
    } finally {
      log.finish();
      await stream.return(undefined);
    }
    // Steps were taken but no rank had a token to learn from: every record was skipped (a wrong image
    // folder, say). Saving the untouched model as trained would hide that.
    if (steps.length > 0 && this.lossTokensTrained === 0)
      throw new TrainingError(
        `no micro-batch of the ${steps.length} step(s) had a token to train on${skipSummary(data)}; the model is not saved`,
      );
    if (o.outputDir && (o.saveStrategy ?? "steps") !== "no" && savedAt !== this.globalStep)
      checkpoint = await this.saveCheckpoint();
    const ev = o.evaluation;
    if (ev?.loadBestModelAtEnd && this.best?.checkpoint && this.best.step !== this.globalStep) {
      // HF's _load_best_model: the weights of the best evaluation become the run's result.
      await this.saver.load(this.best.checkpoint);
      log.message(
        `loaded the best model: ${this.best.checkpoint} (${ev.metric ?? "eval_loss"} ${this.best.metric.toFixed(4)})`,
      );
    }
    const losses = steps.map((s) => s.loss);
    return { globalStep: this.globalStep, losses, steps, logHistory: this.logHistory, checkpoint };
  }

  /**
   * One optimizer step at learning rate `lr`: up to gradientAccumulationSteps micro-batches from `batches`
   * (never across an epoch's end), then the optimizer. Undefined when the data is exhausted. Every rank
   * must read the same number of micro-batches.
   */
  async step(
    batches: AsyncIterator<PositionedBatch<B>>,
    lr: number,
    epochLength?: number,
  ): Promise<StepResult | undefined> {
    const accum = this.options.gradientAccumulationSteps ?? 1;
    const step = this.globalStep + 1;
    const t0 = performance.now();
    const comm0 = this.collective.ms;
    const counts: BatchCounts = { samples: 0, tokens: 0, images: 0, lossTokens: 0 };
    let dataWaitMs = 0;
    let loss = 0;
    let micro = 0;
    let endOfEpoch = false;
    this.optimizer.grads.reset();
    // LoRA dropout (PEFT's model.train()) for the micro-batches' forward and backward only: evaluation,
    // callbacks (which may generate) and whatever runs after training see the model in eval mode.
    setLoraTraining(this.model, true);
    try {
      while (micro < accum && !endOfEpoch) {
        const w0 = performance.now();
        const next = await batches.next();
        dataWaitMs += performance.now() - w0;
        if (next.done) break;
        const { batch, epoch, index, lastInEpoch } = next.value;
        const c = this.task.count(batch);
        const weight = await this.lossWeight(c.lossTokens);
        // A micro-batch with no token to learn from (every record of it skipped, or no answer left after
        // truncation) has no loss: it is counted and adds nothing, as a rank with no loss token weighs 0.
        if (c.lossTokens === 0) this.emptyMicroBatches++;
        else
          loss += accumulateGradients(this.task.prepare(batch), this.params, this.optimizer.grads, {
            accum,
            step,
            micro,
            weight,
          });
        for (const k of ["samples", "tokens", "images", "lossTokens"] as const) counts[k] += c[k];
        if (c.samples > 0) this.run.batchSize ??= c.samples;
        micro++;
        endOfEpoch = lastInEpoch; // an optimizer step never spans two epochs
        this.position = lastInEpoch
          ? { epoch: epoch + 1, batchInEpoch: 0 }
          : { epoch, batchInEpoch: index + 1 };
      }
    } finally {
      setLoraTraining(this.model, false);
    }
    if (micro === 0) return undefined;
    const gradNorm = await this.optimizer.step(lr, this.options.maxGradNorm ?? 1);
    // Every rank logs and returns the global loss; the counts ride along (avg × N is their exact sum).
    const N = this.collective.worldSize;
    const global = Float64Array.of(loss, counts.lossTokens, this.optimizer.nonFinite);
    await this.collective.allReduce(global, "avg");
    const [lossTokens, nonFinite] = [Math.round(global[1] * N), Math.round(global[2] * N)];
    if (nonFinite > 0)
      throw new TrainingError(
        `${nonFinite} trainable value(s) became NaN or ±Inf in the update (learning rate ${lr}, gradient norm ${gradNorm}); training stopped, nothing more is saved, the last checkpoint is kept`,
        step,
      );
    // Gradients computed, with tokens to learn from, and all exactly 0: the loss no longer moves any weight
    // (saturated logits, typically after a learning rate far too high). (No gradient at all — a text-only
    // batch with only the projector training — is not that.)
    if (gradNorm === 0 && lossTokens > 0 && this.optimizer.withGradient > 0)
      throw new TrainingError(
        `the gradient norm is 0 with ${lossTokens} loss token(s) (loss ${global[0]}, learning rate ${lr}): the loss no longer changes any trainable weight; training stopped, nothing more is saved, the last checkpoint is kept`,
        step,
      );
    this.lossTokensTrained += lossTokens;
    this.globalStep = step;
    const { epoch, batchInEpoch } = this.position;
    return {
      step,
      loss: global[0],
      lr,
      gradNorm,
      epoch: epoch + (epochLength ? batchInEpoch / epochLength : 0),
      endOfEpoch,
      counts,
      ms: performance.now() - t0,
      dataWaitMs,
      commMs: this.collective.ms - comm0,
    };
  }

  /** This rank's loss weight among the ranks for a micro-batch of `lossTokens` (one scalar all-reduce). */
  private async lossWeight(lossTokens: number): Promise<number> {
    const N = this.collective.worldSize;
    if (N === 1 || this.options.lossWeighting === "mean") return 1;
    const total = Float64Array.of(lossTokens);
    await this.collective.allReduce(total, "sum");
    return rankLossWeight(lossTokens, total[0], N);
  }

  private evalDue(r: StepResult): boolean {
    const ev = this.options.evaluation;
    if (!ev || ev.strategy === "no") return false;
    if (ev.strategy === "epoch") return r.endOfEpoch;
    return !!ev.steps && r.step % ev.steps === 0;
  }

  /**
   * Runs the evaluation (every rank), logs it, and tracks the best metric: `improved` when this one is the
   * best so far; `stop` when early stopping's patience has run out.
   */
  private async evaluate(log: TrainingLog, epoch: number): Promise<{ improved: boolean; stop: boolean }> {
    const ev = this.options.evaluation!;
    const metrics = await ev.run();
    log.recordEval(this.globalStep, epoch, metrics);
    const name = ev.metric ?? "eval_loss";
    const value = metrics[name];
    if (value === undefined || !Number.isFinite(value))
      throw new TrainingError(`the evaluation returned no finite ${name} (got ${JSON.stringify(metrics)})`);
    const improved = this.best === undefined || value < this.best.metric;
    if (improved) {
      this.best = { metric: value, step: this.globalStep };
      this.sinceBest = 0;
    } else this.sinceBest++;
    const patience = ev.earlyStoppingPatience;
    const stop = patience !== undefined && this.sinceBest >= patience;
    if (stop)
      log.message(
        `early stopping at step ${this.globalStep}: ${name} has not improved on ${this.best!.metric.toFixed(4)} (step ${this.best!.step}) for ${patience} evaluations`,
      );
    return { improved, stop };
  }

  private saveDue(r: StepResult): boolean {
    const { outputDir, saveStrategy = "steps", saveSteps } = this.options;
    if (!outputDir) return false;
    if (saveStrategy === "epoch") return r.endOfEpoch;
    return saveStrategy === "steps" && !!saveSteps && r.step % saveSteps === 0;
  }

  private async callbacks(r: StepResult): Promise<StepControl> {
    const control: StepControl = {};
    for (const cb of this.options.callbacks ?? []) {
      const c = await cb.onStepEnd?.(r);
      if (c?.stop) control.stop = true;
      if (c?.save) control.save = true;
    }
    return control;
  }

  /** Writes checkpoint-<globalStep> (atomically, every rank its optimizer partition), prunes old ones. */
  async saveCheckpoint(): Promise<string> {
    const { outputDir, saveTotalLimit } = this.options;
    if (!outputDir) throw new TrainingError("saveCheckpoint: no outputDir configured");
    // The best checkpoint is kept whatever save_total_limit says, as HF does.
    return saveTrainingCheckpoint(
      this,
      outputDir,
      saveTotalLimit,
      this.best?.checkpoint ? [this.best.checkpoint] : [],
    );
  }

  /** Restores weights, optimizer, schedule position, data position, RNG and log history. */
  async resume(from: string): Promise<void> {
    let dir = from;
    if (from === "latest") {
      const out = this.options.outputDir;
      if (!out)
        throw new TrainingError(
          `resumeFrom "latest" looks in the output folder, and none is set (outputDir)`,
        );
      const found = latestCheckpoint(out);
      if (!found)
        throw new TrainingError(`resumeFrom "latest": no finished checkpoint-<step> folder in ${out}`);
      dir = found;
    }
    await resumeTraining(this, dir);
    // Evaluations since the best one still count towards early stopping's patience.
    const best = this.best;
    const metric = this.options.evaluation?.metric ?? "eval_loss";
    this.sinceBest = best
      ? this.logHistory.filter((e) => e.step > best.step && e[metric] !== undefined).length
      : 0;
  }
}

/** ": this rank's data skipped 8 record(s) (missing_image: 8; e.g. …)" when the data reports skips. */
function skipSummary(data: unknown): string {
  type Skips = { total: number; byReason: Record<string, number>; examples: { message: string }[] };
  const skipped = (data as { stats?(): { skipped?: Skips } }).stats?.()?.skipped;
  if (!skipped?.total) return "";
  const reasons = Object.entries(skipped.byReason).map(([r, n]) => `${r}: ${n}`);
  const example = skipped.examples[0] ? `; e.g. ${skipped.examples[0].message}` : "";
  return `: this rank's data skipped ${skipped.total} record(s) (${reasons.join(", ")}${example})`;
}
