// ZeRO-2's optimizer: AdamW state (exp_avg, exp_avg_sq) for this rank's contiguous 1/N of the flat
// trainable parameters only. A step updates that partition with the trainer's own adamwUpdate (same
// float32 operations as the unpartitioned AdamW), then all-gathers the updated partitions so every rank
// holds the full new parameters. Expects the gradient of its partition to be reduced already (Zero2's
// reduceGradients hook); the rest of the gradient buffer is not read.
import {
  AdamW,
  type AdamWOptions,
  adamwUpdate,
  type Optimizer,
  type OptimizerParam,
  writeVariable,
} from "../adamw.js";
import { TrainingError } from "../training-error.js";
import type { Collective } from "./collective.js";
import { type FlatLayout, flatLayout, partitionOf, segmentsIn } from "./flat-layout.js";
import { readZeroOptimizerState, type StatePartition, writeZeroOptimizerState } from "./zero2-checkpoint.js";

/** How rank 0 reaches the other ranks' state to checkpoint it (launcher-provided for worker threads). */
export interface StateExchange {
  share(key: string, buffer: SharedArrayBuffer): void;
  peers(key: string): Promise<SharedArrayBuffer[]>;
}

export interface PartitionedAdamWOptions extends AdamWOptions {
  collective: Collective;
  /** Needed to save checkpoints with more than one rank. */
  exchange?: StateExchange;
  /** Also write optimizer.safetensors (all ranks' state per parameter) in every checkpoint. */
  consolidate?: boolean;
}

const STATE_KEY = "zero2.adamw";

export class PartitionedAdamW implements Optimizer {
  stepCount = 0;
  readonly layout: FlatLayout;
  /** This rank's flat range [start, end). */
  readonly start: number;
  readonly end: number;
  /** This rank's state, in a SharedArrayBuffer so rank 0 can write every partition into a checkpoint. */
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
  private readonly base: AdamW; // hyper-parameters and their validation, shared with the plain AdamW
  private readonly collective: Collective;
  private gathered?: Float32Array;

  constructor(
    readonly params: readonly OptimizerParam[],
    private readonly options: PartitionedAdamWOptions,
  ) {
    this.base = new AdamW(params, options);
    this.collective = options.collective;
    this.layout = flatLayout(params.map((p) => ({ name: p.name, size: p.variable.size })));
    [this.start, this.end] = partitionOf(this.layout, this.collective.worldSize, this.collective.rank);
    const size = this.end - this.start;
    const buffer = new SharedArrayBuffer(2 * size * 4);
    this.expAvg = new Float32Array(buffer, 0, size);
    this.expAvgSq = new Float32Array(buffer, size * 4, size);
    options.exchange?.share(STATE_KEY, buffer);
  }

  get lr(): number {
    return this.base.lr;
  }

  /** Float values of optimizer state this rank holds: 2 × its partition. */
  get stateSize(): number {
    return 2 * (this.end - this.start);
  }

  async step(grads: readonly (Float32Array | undefined)[], lr: number): Promise<void> {
    if (grads.length !== this.params.length)
      throw new TrainingError(
        `PartitionedAdamW.step: ${grads.length} gradients for ${this.params.length} parameters`,
      );
    this.stepCount++;
    this.gathered ??= new Float32Array(this.layout.total);
    const flat = this.gathered;
    for (const { index, start, end } of segmentsIn(this.layout, this.start, this.end)) {
      const param = this.params[index];
      const offset = this.layout.params[index].offset;
      // Current values from the variable (all ranks agree after every all-gather, and after a resume).
      const values = param.variable.dataSync() as Float32Array;
      flat.set(values.subarray(start - offset, end - offset), start);
      const g = grads[index];
      if (!g) continue; // no gradient anywhere: torch skips the parameter (no decay, no state change)
      adamwUpdate(
        flat.subarray(start, end),
        g.subarray(start - offset, end - offset),
        this.expAvg.subarray(start - this.start, end - this.start),
        this.expAvgSq.subarray(start - this.start, end - this.start),
        this.stepCount,
        this.base.hyper(lr, param.decay),
      );
    }
    await this.collective.allGather(flat);
    this.params.forEach((param, i) => {
      if (!grads[i]) return;
      const { offset, size } = this.layout.params[i];
      writeVariable(param.variable, flat.slice(offset, offset + size)); // a copy: the backend may keep it
    });
  }

  /** Rank 0 writes every rank's partition (the others are blocked at their next collective meanwhile). */
  async save(dir: string): Promise<void> {
    const { worldSize, rank } = this.collective;
    let parts: StatePartition[];
    if (worldSize === 1)
      parts = [{ start: this.start, end: this.end, expAvg: this.expAvg, expAvgSq: this.expAvgSq }];
    else {
      if (!this.options.exchange)
        throw new TrainingError(
          `PartitionedAdamW.save on rank ${rank}: saving ${worldSize} partitions needs a state exchange`,
        );
      const buffers = await this.options.exchange.peers(STATE_KEY);
      parts = buffers.map((buffer, r) => {
        const [start, end] = partitionOf(this.layout, worldSize, r);
        const n = end - start;
        return {
          start,
          end,
          expAvg: new Float32Array(buffer, 0, n),
          expAvgSq: new Float32Array(buffer, n * 4, n),
        };
      });
    }
    const b = this.base;
    const hyper = { lr: b.lr, betas: b.betas, eps: b.eps, weight_decay: b.weightDecay };
    await writeZeroOptimizerState(dir, this.layout, parts, this.stepCount, hyper, this.options.consolidate);
  }

  /** Reads this rank's partition from a ZeRO checkpoint saved with any number of ranks, or a consolidated one. */
  load(dir: string): void {
    const state = readZeroOptimizerState(dir, this.layout, this.start, this.end);
    this.expAvg.set(state.expAvg);
    this.expAvgSq.set(state.expAvgSq);
    this.stepCount = state.step;
  }
}
