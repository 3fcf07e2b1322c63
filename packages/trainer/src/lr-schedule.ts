// transformers' get_{constant,linear,cosine}_schedule_with_warmup with torch's LambdaLR semantics:
// the optimizer step taken after `s` completed steps uses lr = base_lr · λ(s), so step 1 uses λ(0).
import { TrainingError } from "./training-error.js";

export type ScheduleType = "constant" | "linear" | "cosine";

export interface ScheduleOptions {
  type?: ScheduleType;
  /** Steps of linear warmup from 0; wins over `warmupRatio`. */
  warmupSteps?: number;
  /** Warmup as a fraction of the total steps, rounded up (HF's `warmup_ratio`). */
  warmupRatio?: number;
  /** Cosine only: HF's num_cycles (default 0.5: one half-wave from the peak down to 0). */
  numCycles?: number;
}

export class LrSchedule {
  readonly type: ScheduleType;
  readonly warmupSteps: number;
  readonly numCycles: number;

  constructor(
    readonly baseLr: number,
    /** Total optimizer steps of the run (the decay reaches 0 there). */
    readonly totalSteps: number,
    options: ScheduleOptions = {},
  ) {
    this.type = options.type ?? "constant";
    if (!["constant", "linear", "cosine"].includes(this.type))
      throw new TrainingError(`unknown lr schedule "${this.type}"; expected constant, linear or cosine`);
    this.warmupSteps = options.warmupSteps ?? Math.ceil(totalSteps * (options.warmupRatio ?? 0));
    if (!Number.isInteger(this.warmupSteps) || this.warmupSteps < 0)
      throw new TrainingError(`warmup steps must be a non-negative integer, got ${this.warmupSteps}`);
    this.numCycles = options.numCycles ?? 0.5;
  }

  /** λ(s): the multiplier after `s` completed optimizer steps. */
  factor(s: number): number {
    const w = this.warmupSteps;
    if (s < w) return s / Math.max(1, w);
    if (this.type === "constant") return 1;
    const T = this.totalSteps;
    if (this.type === "linear") return Math.max(0, (T - s) / Math.max(1, T - w));
    const progress = (s - w) / Math.max(1, T - w);
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * this.numCycles * 2 * progress)));
  }

  /** Learning rate of the optimizer step that follows `s` completed steps. */
  lr(s: number): number {
    return this.baseLr * this.factor(s);
  }
}
