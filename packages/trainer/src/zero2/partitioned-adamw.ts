// ZeRO-2's optimizer: AdamW state (exp_avg, exp_avg_sq) for this rank's contiguous 1/N of the flat
// trainable parameters only. A step updates that partition with the trainer's own adamwUpdate (same
// float32 operations as the unpartitioned AdamW), then all-gathers the updated partitions so every rank
// holds the full new parameters. Expects the gradient of its partition to be reduced already (Zero2's
// reduceGradients hook); the rest of the gradient buffer is not read.
import { rewriteVariable, valuesOf } from "@llava-ts/core";
import { AdamW, type AdamWOptions, adamwUpdate, type Optimizer, type OptimizerParam } from "../adamw.js";
import { TrainingError } from "../training-error.js";
import type { Collective } from "./collective/collective.js";
import { type FlatLayout, flatLayout, partitionOf, segmentsIn } from "./flat-layout.js";
import { readZeroOptimizerState } from "./read-zero-optimizer-state.js";
import { assembleZeroOptimizerState, writeZeroPartition } from "./zero2-checkpoint.js";

export interface PartitionedAdamWOptions extends AdamWOptions {
  collective: Collective;
  /** Also write optimizer.safetensors (all ranks' state per parameter) in every checkpoint. */
  consolidate?: boolean;
}

export class PartitionedAdamW implements Optimizer {
  stepCount = 0;
  readonly layout: FlatLayout;
  /** This rank's flat range [start, end). */
  readonly start: number;
  readonly end: number;
  /** This rank's state: flat values [start, end). */
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
  private readonly base: AdamW; // hyper-parameters and their validation, shared with the plain AdamW
  private readonly collective: Collective;
  /**
   * All trainable values, flat; [start, end) is this rank's master copy (DeepSpeed's fp32 partition): the
   * optimizer owns the trained values between steps, read from the variables only at the first step and
   * after `load`.
   */
  private gathered?: Float32Array;
  private stale = true;
  private staged?: string;

  constructor(
    readonly params: readonly OptimizerParam[],
    private readonly options: PartitionedAdamWOptions,
  ) {
    this.base = new AdamW(params, options);
    this.collective = options.collective;
    this.layout = flatLayout(params.map((p) => ({ name: p.name, size: p.variable.size })));
    [this.start, this.end] = partitionOf(this.layout, this.collective.worldSize, this.collective.rank);
    this.expAvg = new Float32Array(this.end - this.start);
    this.expAvgSq = new Float32Array(this.end - this.start);
  }

  get lr(): number {
    return this.base.lr;
  }

  /** Float values of optimizer state this rank holds: 2 × its partition. */
  get stateSize(): number {
    return 2 * (this.end - this.start);
  }

  async step(grads: readonly (Float32Array | undefined)[], lr: number, gradScale = 1): Promise<void> {
    if (grads.length !== this.params.length)
      throw new TrainingError(
        `PartitionedAdamW.step: ${grads.length} gradients for ${this.params.length} parameters`,
      );
    this.stepCount++;
    const shared = this.sharedBuffers(grads);
    if (shared) return this.stepInPlace(shared, grads, lr, gradScale);
    this.gathered ??= new Float32Array(this.layout.total);
    const flat = this.gathered;
    const segments = segmentsIn(this.layout, this.start, this.end);
    if (this.stale) {
      for (const { index, start, end } of segments) {
        const offset = this.layout.params[index].offset;
        flat.set(
          (this.params[index].variable.dataSync() as Float32Array).subarray(start - offset, end - offset),
          start,
        );
      }
      this.stale = false;
    }
    for (const { index, start, end } of segments) {
      const param = this.params[index];
      const offset = this.layout.params[index].offset;
      const g = grads[index];
      if (!g) continue; // no gradient anywhere: torch skips the parameter (no decay, no state change)
      adamwUpdate(
        flat.subarray(start, end),
        g.subarray(start - offset, end - offset),
        this.expAvg.subarray(start - this.start, end - this.start),
        this.expAvgSq.subarray(start - this.start, end - this.start),
        this.stepCount,
        this.base.hyper(lr, param.decay, gradScale),
      );
    }
    await this.collective.allGather(flat);
    this.params.forEach((param, i) => {
      if (!grads[i]) return;
      const { offset, size } = this.layout.params[i];
      // Straight into the variable's next buffer: no per-step JS copy of e.g. the 78M-value embedding.
      rewriteVariable(param.variable, (next) => next.set(flat.subarray(offset, offset + size)));
    });
  }

  /**
   * Every rank's contiguous gradient buffer when `grads` live in this rank's (ZeRO-2's contiguous
   * gradients, already reduce-scattered), else undefined.
   */
  private sharedBuffers(grads: readonly (Float32Array | undefined)[]): Float32Array[] | undefined {
    const { total } = this.layout;
    const own = this.collective.contiguousGradients?.(total);
    const i = grads.findIndex((g) => g !== undefined);
    if (!own || i < 0) return undefined;
    const g = grads[i]!;
    if (g.buffer !== own.buffer || g.byteOffset !== own.byteOffset + 4 * this.layout.params[i].offset)
      return undefined;
    const { worldSize } = this.collective;
    return Array.from({ length: worldSize }, (_, k) => this.collective.contiguousGradients!(total, k)!);
  }

  /**
   * The step on contiguous gradient buffers: this rank's partition of its buffer holds the reduced
   * gradient; the update overwrites it with the new parameter values (each value's gradient is read
   * before its parameter is written), then every rank copies each parameter straight from its owners'
   * buffers into the variable. The variables are the master copy; nothing goes through the slots.
   */
  private async stepInPlace(
    buffers: Float32Array[],
    grads: readonly (Float32Array | undefined)[],
    lr: number,
    gradScale: number,
  ): Promise<void> {
    const { worldSize } = this.collective;
    const mine = buffers[this.collective.rank];
    for (const { index, start, end } of segmentsIn(this.layout, this.start, this.end)) {
      const g = grads[index];
      if (!g) continue; // no gradient anywhere: torch skips the parameter (no decay, no state change)
      const param = this.params[index];
      const offset = this.layout.params[index].offset;
      adamwUpdate(
        mine.subarray(start, end),
        g.subarray(start - offset, end - offset), // the same values: read before overwritten
        this.expAvg.subarray(start - this.start, end - this.start),
        this.expAvgSq.subarray(start - this.start, end - this.start),
        this.stepCount,
        this.base.hyper(lr, param.decay, gradScale),
        0,
        end - start,
        valuesOf(param.variable).subarray(start - offset, end - offset),
      );
    }
    await this.collective.barrier(); // every partition updated
    const ranges = Array.from({ length: worldSize }, (_, k) => partitionOf(this.layout, worldSize, k));
    this.params.forEach((param, i) => {
      if (!grads[i]) return;
      const { offset, size } = this.layout.params[i];
      rewriteVariable(param.variable, (next) => {
        ranges.forEach(([lo, hi], k) => {
          const a = Math.max(lo, offset);
          const b = Math.min(hi, offset + size);
          if (a < b) next.set(buffers[k].subarray(a, b), a - offset);
        });
      });
    });
    await this.collective.barrier(); // every rank has read the others' buffers before they take new gradients
    this.stale = true; // the old path (if ever taken again) must re-read the variables
  }

  /** Every rank, before rank 0's `save`: writes this rank's partition file into `staging` (DeepSpeed's layout). */
  async writePartition(staging: string): Promise<void> {
    const { rank, worldSize } = this.collective;
    const part = { start: this.start, end: this.end, expAvg: this.expAvg, expAvgSq: this.expAvgSq };
    await writeZeroPartition(staging, rank, worldSize, part, this.stepCount);
    this.staged = staging;
  }

  /** Rank 0, once every rank's `writePartition` is done (Zero2's saveCheckpoint hook orders this). */
  async save(dir: string): Promise<void> {
    const { worldSize } = this.collective;
    if (!this.staged) {
      if (worldSize > 1)
        throw new TrainingError(
          `PartitionedAdamW.save: ${worldSize} ranks must each write their partition first (Zero2's saveCheckpoint hook)`,
        );
      await this.writePartition(dir);
    }
    const staging = this.staged!;
    this.staged = undefined;
    const b = this.base;
    const hyper = { lr: b.lr, betas: b.betas, eps: b.eps, weight_decay: b.weightDecay };
    const ranges = Array.from({ length: worldSize }, (_, r) => partitionOf(this.layout, worldSize, r));
    await assembleZeroOptimizerState(
      dir,
      staging,
      this.layout,
      ranges,
      this.stepCount,
      hyper,
      this.options.consolidate,
    );
  }

  /** Reads this rank's partition from a ZeRO checkpoint saved with any number of ranks, or a consolidated one. */
  load(dir: string): void {
    const state = readZeroOptimizerState(dir, this.layout, this.start, this.end);
    this.expAvg.set(state.expAvg);
    this.expAvgSq.set(state.expAvgSq);
    this.stepCount = state.step;
    this.stale = true; // the trainer loads the weights before the optimizer state
  }
}
