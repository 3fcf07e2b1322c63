// ZeRO-2 for the Trainer, through its hooks: gradients are reduce-scattered (averaged) so this rank keeps
// only its partition's gradient; the global norm is an all-reduce of each partition's Σg²; the optimizer
// is a PartitionedAdamW; rank 0 is the main process (checkpoints, metrics, progress).
// By default each rank's loss is weighted by its share of the global batch's labelled tokens, so N ranks
// with micro-batch b compute exactly what one rank does with micro-batch N·b (DeepSpeed instead averages
// the ranks' mean losses, which differs when ranks see different numbers of labelled tokens).
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Module } from "@llava-ts/core";
import type * as tf from "@tensorflow/tfjs-core";
import { type EpochSource, isEpochSource, type TrainData } from "../batch-stream.js";
import { saveTrainingCheckpoint, type TrainingSnapshot } from "../checkpoint/training-checkpoint.js";
import type { GradientBuffer } from "../gradient-buffer.js";
import { type LlavaLike, llavaTask } from "../llava-task.js";
import type { Batch, TrainTask } from "../train-task.js";
import type { TrainerHooks, TrainerOptions } from "../trainer-options.js";
import { TrainingError } from "../training-error.js";
import type { Collective } from "./collective/collective.js";
import { TimedCollective } from "./collective/timed-collective.js";
import { PartitionedAdamW } from "./partitioned-adamw.js";

export type LossWeighting = "tokens" | "mean";

export interface Zero2Options<B> {
  collective: Collective;
  /** "tokens" (default): one-rank-equivalent token-weighted mean; "mean": average of rank means (DeepSpeed). */
  weighting?: LossWeighting;
  /** Labelled tokens of a micro-batch, for "tokens"; default: HF's shifted labels ≠ -100 under the mask. */
  labelCount?: (batch: B) => number;
  /** Also write a consolidated optimizer.safetensors in each checkpoint (resumable without ZeRO). */
  consolidateOptimizer?: boolean;
}

export class Zero2<B = Batch> {
  readonly collective: TimedCollective;
  optimizer?: PartitionedAdamW;
  /** The global loss of each optimizer step (the rank-weighted mean), identical on every rank. */
  readonly losses: number[] = [];
  /** Wall time of each optimizer step on this rank (ms): first micro-batch in hand to the end of the all-gather. */
  readonly stepMs: number[] = [];
  /** The part of each step spent in collective operations, waiting for other ranks included (ms). */
  readonly commMs: number[] = [];
  private stepStart?: number;
  private commAtStart = 0;
  private readonly weights = new WeakMap<object, number>();
  private pendingLoss = 0;
  private accumulation = 1;
  private saveTotalLimit?: number;

  constructor(readonly options: Zero2Options<B>) {
    this.collective = new TimedCollective(options.collective);
  }

  get rank(): number {
    return this.collective.rank;
  }

  get worldSize(): number {
    return this.collective.worldSize;
  }

  /** `options` with the ZeRO-2 hooks and the loss-weighting task (default llavaTask(model)) filled in. */
  trainerOptions(model: Module, options: TrainerOptions<B> = {}): TrainerOptions<B> {
    this.accumulation = options.gradientAccumulationSteps ?? 1;
    this.saveTotalLimit = options.saveTotalLimit;
    const task = options.task ?? (llavaTask(model as LlavaLike) as unknown as TrainTask<B>);
    return { ...options, task: this.wrapTask(task), hooks: { ...options.hooks, ...this.hooks() } };
  }

  hooks(): TrainerHooks {
    return {
      isMainProcess: this.rank === 0,
      createOptimizer: (params, adamw) => {
        const optimizer = new PartitionedAdamW(params, {
          ...adamw,
          collective: this.collective,
          consolidate: this.options.consolidateOptimizer,
        });
        const step = optimizer.step.bind(optimizer);
        optimizer.step = async (grads, lr, gradScale) => {
          await step(grads, lr, gradScale);
          if (this.stepStart !== undefined) {
            this.stepMs.push(performance.now() - this.stepStart);
            this.commMs.push(this.collective.ms - this.commAtStart);
          }
          this.stepStart = undefined;
        };
        this.optimizer = optimizer;
        return optimizer;
      },
      saveCheckpoint: (trainer, outputDir) => this.saveCheckpoint(trainer, outputDir),
      // DeepSpeed's contiguous_gradients: accumulate where the other ranks can read, reduce without copying.
      gradientStorage: (length) =>
        this.worldSize > 1 ? this.collective.contiguousGradients(length) : undefined,
      reduceGradients: (grads) => this.reduceGradients(grads),
      gradSumOfSquares: (grads) => this.gradSumOfSquares(grads),
      // Every rank logs and returns the global loss that reduceGradients just agreed on.
      stepLoss: () => this.losses[this.losses.length - 1],
    };
  }

  /** Scales each micro-batch's loss by its weight (set by `wrapData`) and records it for the global loss. */
  wrapTask(inner: TrainTask<B>): TrainTask<B> {
    return {
      count: (batch) => inner.count(batch),
      prepare: (batch) => {
        this.markStepStart();
        const weight = this.weights.get(batch as object) ?? 1;
        const prepared = inner.prepare(batch);
        return {
          loss: () => {
            const l = prepared.loss();
            const scaled = (weight === 1 ? l : l.mul(weight)) as tf.Scalar;
            this.pendingLoss += Math.fround(scaled.dataSync()[0] / this.accumulation); // as the trainer divides
            return scaled;
          },
          rowGradients: prepared.rowGradients,
          dispose: () => prepared.dispose(),
        };
      },
    };
  }

  /**
   * The same data, with each micro-batch's loss weight agreed across ranks before it is used (one scalar
   * all-reduce of labelled-token counts). Every rank must read the same number of micro-batches.
   */
  wrapData(data: TrainData<B>): TrainData<B> {
    const weigh = async function* (this: Zero2<B>, source: AsyncIterable<B> | Iterable<B>) {
      for await (const batch of source) {
        this.markStepStart();
        await this.weigh(batch);
        yield batch;
      }
    }.bind(this);
    if (isEpochSource(data))
      return { length: data.length, epoch: (e, start) => weigh(data.epoch(e, start)) } as EpochSource<B>;
    if (Array.isArray(data))
      return { length: data.length, epoch: (_e, start = 0) => weigh(data.slice(start)) } as EpochSource<B>;
    return { [Symbol.asyncIterator]: () => weigh(data as AsyncIterable<B>) };
  }

  private markStepStart(): void {
    if (this.stepStart !== undefined) return;
    this.stepStart = performance.now();
    this.commAtStart = this.collective.ms;
  }

  private async weigh(batch: B): Promise<void> {
    const N = this.worldSize;
    if (N === 1 || (this.options.weighting ?? "tokens") === "mean") return;
    const count = (this.options.labelCount ?? (labelledTokens as unknown as (b: B) => number))(batch);
    const total = Float64Array.of(count);
    await this.collective.allReduce(total, "sum");
    // No labelled token anywhere: leave the loss alone so the trainer's NaN check names the step.
    this.weights.set(batch as object, total[0] > 0 ? (N * count) / total[0] : 1);
  }

  /**
   * Every rank writes its optimizer partition into a staging folder beside the checkpoints (a shared
   * filesystem across machines), then rank 0 writes the model and trainer state and moves the partitions
   * in, all under the trainer's atomic temp-and-rename: a rank failing midway leaves the last checkpoint.
   */
  private async saveCheckpoint(trainer: TrainingSnapshot, outputDir: string): Promise<string | undefined> {
    const opt = this.optimizer!;
    const staging = join(outputDir, `.zero2-staging-${trainer.globalStep}`);
    if (this.rank === 0) {
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { recursive: true });
    }
    await this.collective.barrier();
    await opt.writePartition(staging);
    await this.collective.barrier();
    if (this.rank !== 0) return undefined;
    try {
      return await saveTrainingCheckpoint(trainer, outputDir, this.saveTotalLimit);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  private async reduceGradients(grads: GradientBuffer): Promise<void> {
    const opt = this.optimizer;
    if (!opt)
      throw new TrainingError(
        "Zero2: reduceGradients before the optimizer was created (hooks not installed?)",
      );
    if (grads.flat.length !== opt.layout.total)
      throw new TrainingError(
        `Zero2: gradient buffer has ${grads.flat.length} values, the partitioned layout ${opt.layout.total}`,
      );
    const loss = Float64Array.of(this.pendingLoss);
    this.pendingLoss = 0;
    if (this.worldSize > 1) {
      // A parameter has a gradient if it has one on any rank; where it has none here, it adds zeros.
      grads.zeroAbsent();
      const present = Float32Array.from(grads.present, (p) => (p ? 1 : 0));
      await this.collective.allReduce(present, "max");
      present.forEach((p, i) => {
        grads.present[i] = p > 0;
      });
      // In place: the output is this rank's own range of the input, which each bucket reads before writing.
      await this.collective.reduceScatter(grads.flat, grads.flat.subarray(opt.start, opt.end), "avg");
      await this.collective.allReduce(loss, "avg");
    }
    this.losses.push(loss[0]);
  }

  private async gradSumOfSquares(grads: GradientBuffer): Promise<number> {
    const opt = this.optimizer!;
    let s = 0;
    for (const [i, p] of opt.layout.params.entries()) {
      if (!grads.present[i]) continue;
      const a = Math.max(opt.start, p.offset);
      const b = Math.min(opt.end, p.offset + p.size);
      for (let k = a; k < b; k++) s += grads.flat[k] * grads.flat[k];
    }
    const total = Float64Array.of(s);
    if (this.worldSize > 1) await this.collective.allReduce(total, "sum");
    return total[0];
  }
}

/** Positions that enter HF's llava loss: labels[b, t+1] ≠ -100 with attention mask 1, t < T − 1. */
export function labelledTokens(batch: Batch): number {
  const { batchSize: B, seqLength: T, labels, attentionMask } = batch;
  let n = 0;
  for (let b = 0; b < B; b++)
    for (let t = 1; t < T; t++) if (labels[b * T + t] !== -100 && attentionMask[b * T + t] !== 0) n++;
  return n;
}
