// ZeRO-2's optimizer, as DeepSpeed's stage-2 optimizer: the trainer accumulates this rank's gradients in
// `grads` (on shared memory a contiguous buffer the other ranks can read); `step` averages them across
// ranks with a reduce-scatter, so this rank holds the gradient of its 1/N partition of the flat trainable
// values only; takes the global norm (an all-reduce of each partition's Σg²) and clips; updates the
// partition with AdamW (state exists for it only); and all-gathers the updated values into every rank's
// parameters. One rank is the same code on a LocalCollective: the partition is everything, the
// collectives are the identity, and the update goes straight into each variable on two cores.
import { join } from "node:path";
import { rewriteVariable, sharedFloat32, valuesOf } from "@llava-ts/core/internal";
import {
  type AdamWConfig,
  type AdamWOptions,
  adamwConfig,
  adamwHyper,
  adamwUpdate,
  adamwUpdateParallel,
  type OptimizerParam,
} from "../adamw.js";
import { clipCoefficient, GradientBuffer } from "../gradient-buffer.js";
import { TrainingError } from "../training-error.js";
import type { Collective } from "./collective/collective.js";
import { type FlatLayout, flatLayout, partitionOf, segmentsIn } from "./flat-layout.js";
import { readZeroOptimizerState } from "./read-zero-optimizer-state.js";
import {
  OPTIMIZER_FILE,
  writeConsolidated,
  writePartitionsJson,
  writeZeroPartition,
  zeroStepDir,
} from "./zero2-checkpoint.js";

export interface PartitionedAdamWOptions extends AdamWOptions {
  collective: Collective;
  /** With N > 1 ranks, also write optimizer.safetensors (every rank's state per parameter) in checkpoints. */
  consolidate?: boolean;
}

export class PartitionedAdamW {
  /** Optimizer steps taken (torch's `state["step"]`). */
  stepCount = 0;
  /** Values of this rank's partition that the last update left NaN or ±Inf (the trainer stops on any). */
  nonFinite = 0;
  /** Parameters the last step had a gradient for, on any rank (0: the loss reached none of them). */
  withGradient = 0;
  readonly config: AdamWConfig;
  readonly layout: FlatLayout;
  /** This rank's flat range [start, end). */
  readonly start: number;
  readonly end: number;
  /** This rank's state: flat values [start, end). */
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
  /** Where the trainer sums this rank's gradients over the micro-batches of a step. */
  readonly grads: GradientBuffer;
  private readonly collective: Collective;
  /** Every rank's contiguous gradient buffer, when the transport shares them (the in-place update). */
  private readonly peers?: Float32Array[];
  /**
   * Copying transports: all trainable values, flat; [start, end) is this rank's master copy, read from the
   * variables only at the first step and after `load` (DeepSpeed's fp32 partition).
   */
  private gathered?: Float32Array;
  private stale = true;

  constructor(
    readonly params: readonly OptimizerParam[],
    private readonly options: PartitionedAdamWOptions,
  ) {
    this.config = adamwConfig(options);
    this.collective = options.collective;
    const { worldSize, rank } = this.collective;
    this.layout = flatLayout(params.map((p) => ({ name: p.name, size: p.variable.size })));
    [this.start, this.end] = partitionOf(this.layout, worldSize, rank);
    // Shared memory: one rank's update and norm run their long loops on two cores.
    this.expAvg = sharedFloat32(this.end - this.start);
    this.expAvgSq = sharedFloat32(this.end - this.start);
    const { total } = this.layout;
    // DeepSpeed's contiguous_gradients: accumulate where the other ranks can read, reduce without copying.
    const storage = worldSize > 1 ? this.collective.contiguousGradients?.(total) : undefined;
    this.grads = new GradientBuffer(
      params.map((p) => p.variable.size),
      storage,
    );
    if (storage)
      this.peers = Array.from(
        { length: worldSize },
        (_, k) => this.collective.contiguousGradients!(total, k)!,
      );
  }

  get lr(): number {
    return this.config.lr;
  }

  /** Float values of optimizer state this rank holds: 2 × its partition. */
  get stateSize(): number {
    return 2 * (this.end - this.start);
  }

  /**
   * One update from the gradients summed in `grads`: averaged across ranks, clipped to `maxGradNorm`
   * (0 = no clipping) with torch's clip_grad_norm_ factor, applied at learning rate `lr`. Returns the
   * global gradient norm before clipping (HF's grad_norm); a non-finite one throws before any update.
   * Parameters without a gradient on any rank are skipped, as torch skips `p.grad is None`.
   */
  async step(lr: number, maxGradNorm = 0): Promise<number> {
    if (this.collective.worldSize > 1) await this.reduceGradients();
    this.withGradient = this.grads.present.filter(Boolean).length; // all ranks' after the reduce
    const norm = await this.globalNorm();
    if (!Number.isFinite(norm))
      throw new TrainingError(
        `gradient norm is ${norm}; training stopped before the update`,
        this.stepCount + 1,
      );
    // clip_grad_norm_'s factor, applied by the update as it reads each gradient (one pass fewer).
    const scale = maxGradNorm > 0 ? clipCoefficient(norm, maxGradNorm) : 1;
    this.stepCount++;
    this.nonFinite = 0;
    const grads = this.grads.gradients();
    if (this.collective.worldSize === 1) this.updateLocal(grads, lr, scale);
    else if (this.peers) await this.updateInPlace(this.peers, grads, lr, scale);
    else await this.updateGathered(grads, lr, scale);
    return norm;
  }

  /** Reduce-scatter (average) in place: this rank's range of `grads.flat` ends with the global gradient. */
  private async reduceGradients(): Promise<void> {
    const g = this.grads;
    // A parameter has a gradient if it has one on any rank; where it has none here, it adds zeros.
    g.zeroAbsent();
    const present = Float32Array.from(g.present, (p) => (p ? 1 : 0));
    await this.collective.allReduce(present, "max");
    present.forEach((p, i) => {
      g.present[i] = p > 0;
    });
    // In place: the output is this rank's own range of the input, which each bucket reads before writing.
    await this.collective.reduceScatter(g.flat, g.flat.subarray(this.start, this.end), "avg");
  }

  /** √(Σ g²) over every rank's partition (float64 sums, rounded to float32 as torch's norm). */
  private async globalNorm(): Promise<number> {
    const total = Float64Array.of(this.grads.sumOfSquares(this.start, this.end));
    await this.collective.allReduce(total, "sum");
    return Math.fround(Math.sqrt(total[0]));
  }

  /** One rank: each parameter's update written straight into its variable's next buffer. */
  private updateLocal(grads: readonly (Float32Array | undefined)[], lr: number, scale: number): void {
    this.params.forEach((param, i) => {
      const g = grads[i];
      if (!g) return;
      const { offset, size } = this.layout.params[i];
      const h = adamwHyper(this.config, lr, param.decay, scale);
      const m = this.expAvg.subarray(offset, offset + size);
      const v = this.expAvgSq.subarray(offset, offset + size);
      // On wasm heap to heap, no JS copies to allocate.
      rewriteVariable(param.variable, (next, current) => {
        this.nonFinite += adamwUpdateParallel(next, g, m, v, this.stepCount, h, current);
      });
    });
  }

  /**
   * Contiguous gradient buffers: this rank's partition of its buffer holds the reduced gradient; the
   * update overwrites it with the new parameter values (each value's gradient is read before its
   * parameter is written), then every rank copies each parameter straight from its owners' buffers into
   * the variable. The variables are the master copy; nothing goes through the collective's slots.
   */
  private async updateInPlace(
    buffers: Float32Array[],
    grads: readonly (Float32Array | undefined)[],
    lr: number,
    scale: number,
  ): Promise<void> {
    const { worldSize } = this.collective;
    const mine = buffers[this.collective.rank];
    for (const { index, start, end } of segmentsIn(this.layout, this.start, this.end)) {
      const g = grads[index];
      if (!g) continue;
      const param = this.params[index];
      const offset = this.layout.params[index].offset;
      this.nonFinite += adamwUpdate(
        mine.subarray(start, end),
        g.subarray(start - offset, end - offset), // the same values: read before overwritten
        this.expAvg.subarray(start - this.start, end - this.start),
        this.expAvgSq.subarray(start - this.start, end - this.start),
        this.stepCount,
        adamwHyper(this.config, lr, param.decay, scale),
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
  }

  /** Copying transports (TCP): update this rank's master copy, all-gather it, write the variables. */
  private async updateGathered(
    grads: readonly (Float32Array | undefined)[],
    lr: number,
    scale: number,
  ): Promise<void> {
    this.gathered ??= new Float32Array(this.layout.total);
    const flat = this.gathered;
    const segments = segmentsIn(this.layout, this.start, this.end);
    if (this.stale) {
      for (const { index, start, end } of segments) {
        const offset = this.layout.params[index].offset;
        flat.set(valuesOf(this.params[index].variable).subarray(start - offset, end - offset), start);
      }
      this.stale = false;
    }
    for (const { index, start, end } of segments) {
      const g = grads[index];
      if (!g) continue;
      const offset = this.layout.params[index].offset;
      this.nonFinite += adamwUpdate(
        flat.subarray(start, end),
        g.subarray(start - offset, end - offset),
        this.expAvg.subarray(start - this.start, end - this.start),
        this.expAvgSq.subarray(start - this.start, end - this.start),
        this.stepCount,
        adamwHyper(this.config, lr, this.params[index].decay, scale),
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
   * Every rank, into checkpoint folder `dir` (shared by the ranks): with one rank optimizer.safetensors
   * (the state per parameter); with N, each rank's partition as DeepSpeed lays it out, then (rank 0) the
   * layout and `latest` — and optimizer.safetensors too when `consolidate` is set.
   */
  async save(dir: string): Promise<void> {
    const { rank, worldSize } = this.collective;
    const c = this.config;
    const hyper = { lr: c.lr, betas: c.betas, eps: c.eps, weight_decay: c.weightDecay };
    const state = { step: this.stepCount, hyper, params: this.layout.params };
    if (worldSize === 1) {
      await writeConsolidated(join(dir, OPTIMIZER_FILE), state, (lo, hi, key) => this[key].subarray(lo, hi));
      return;
    }
    const part = { start: this.start, end: this.end, expAvg: this.expAvg, expAvgSq: this.expAvgSq };
    await writeZeroPartition(join(dir, zeroStepDir(this.stepCount)), rank, worldSize, part, this.stepCount);
    await this.collective.barrier(); // every partition written
    if (rank !== 0) return;
    const ranges = Array.from({ length: worldSize }, (_, r) => partitionOf(this.layout, worldSize, r));
    await writePartitionsJson(dir, this.layout, ranges, this.stepCount, hyper, this.options.consolidate);
  }

  /** Reads this rank's partition from a checkpoint saved on any number of ranks, or a consolidated one. */
  load(dir: string): void {
    const state = readZeroOptimizerState(dir, this.layout, this.start, this.end);
    this.expAvg.set(state.expAvg);
    this.expAvgSq.set(state.expAvgSq);
    this.stepCount = state.step;
    this.stale = true; // the trainer loads the weights before the optimizer state
  }
}
