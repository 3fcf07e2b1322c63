// torch.optim.AdamW (torch 1.13, single-tensor path) on flat Float32Arrays, in torch's order of
// operations. State lives in JS memory, one (exp_avg, exp_avg_sq) pair per parameter: outside wasm's
// 4 GB heap (2× the trainable weights), and sliceable so ZeRO-2 can keep just its partition of it.

import { join } from "node:path";
import { type LoopBody, rewriteVariable, sharedFloat32, splitLoop } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { loadOptimizerState, OPTIMIZER_FILE, saveOptimizerState } from "./optimizer-state.js";
import { TrainingError } from "./training-error.js";

export interface AdamWOptions {
  /** Default 1e-3 (torch's default). */
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Decoupled decay (p -= lr·wd·p), default 0; not applied to parameters in `noDecay`. */
  weightDecay?: number;
}

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /**
   * Multiplies every gradient value first, rounded to float32 as torch's in-place `grad.mul_(clip_coef)`
   * does: gradient clipping folded into the update instead of a separate pass over the gradients.
   */
  gradScale?: number;
}

/**
 * One AdamW update of `p[from:to]` in place, with `step` the 1-based step count after this update.
 * torch: p *= 1 - lr·wd; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
 *        p -= lr/(1-β1^t) · m / (√v / √(1-β2^t) + eps).
 * Each value is computed in double and rounded once when stored: within an ulp of torch's float32
 * arithmetic and twice as fast as rounding every intermediate (measured in bench/adamw-update.bench.ts).
 * The parameters are read from `source` (default `p` itself), so an update can go straight into a new buffer.
 */
export function adamwUpdate(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  step: number,
  h: AdamWHyper,
  from = 0,
  to = p.length,
  source: Float32Array = p,
): void {
  const decay = 1 - h.lr * h.weightDecay;
  const { beta1: b1, beta2: b2, eps } = h;
  const a1 = 1 - b1;
  const a2 = 1 - b2;
  const stepSize = h.lr / (1 - b1 ** step);
  const bc2Sqrt = Math.sqrt(1 - b2 ** step);
  const scale = Math.fround(h.gradScale ?? 1);
  for (let i = from; i < to; i++) {
    const gi = Math.fround(g[i] * scale); // exact when scale is 1
    const mi = b1 * m[i] + a1 * gi;
    const vi = b2 * v[i] + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = source[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}

/** adamwUpdate on [from, to) of p, g, m, v, source: the helper thread's part runs from this text. */
function adamwPart(a: Float32Array[], from: number, to: number, extra: unknown): number {
  const x = extra as { step: number; h: AdamWHyper };
  adamwUpdate(a[0], a[1], a[2], a[3], x.step, x.h, from, to, a[4]);
  return 0;
}

/**
 * adamwUpdate over all of `p`, the upper half on core's second-core helper when every array is shared
 * memory (the trainer's gradients and state are; so is the threaded wasm heap): the same bits as one thread.
 */
export function adamwUpdateParallel(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  step: number,
  h: AdamWHyper,
  source: Float32Array = p,
): void {
  splitLoop(adamwPart as LoopBody, [p, g, m, v, source], p.length, {
    extra: { step, h },
    deps: [adamwUpdate],
  });
}

/** Per-parameter optimizer state, as torch's `optimizer.state[p]`. */
export interface AdamState {
  expAvg: Float32Array;
  expAvgSq: Float32Array;
}

export interface OptimizerParam {
  name: string;
  variable: tf.Variable;
  /** Whether weight decay applies (false for biases and norm weights under HF's grouping). */
  decay: boolean;
}

/**
 * What the trainer needs from an optimizer; a partitioned one (ZeRO-2) implements the same surface over
 * its share of the parameters.
 */
export interface Optimizer {
  /** Optimizer steps taken so far. */
  stepCount: number;
  /**
   * One update; `grads[i]` belongs to the i-th trainable parameter (undefined = it got no gradient).
   * `gradScale` (default 1) multiplies every gradient first: the trainer's clipping coefficient.
   */
  step(grads: readonly (Float32Array | undefined)[], lr: number, gradScale?: number): void | Promise<void>;
  /** Writes this optimizer's state into checkpoint folder `dir`; `load` reads it back. */
  save(dir: string): Promise<void>;
  load(dir: string): void | Promise<void>;
  /** Float values of optimizer state held by this process. */
  readonly stateSize: number;
}

/** AdamW over named variables; `step()` takes one flat gradient per parameter (undefined = no gradient). */
export class AdamW implements Optimizer {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  /** Optimizer steps taken (torch's `state["step"]`). */
  stepCount = 0;
  readonly state = new Map<string, AdamState>();

  constructor(
    readonly params: readonly OptimizerParam[],
    options: AdamWOptions = {},
  ) {
    this.lr = options.lr ?? 1e-3;
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new TrainingError(`AdamW: invalid ${what}`);
    };
    check(this.lr >= 0, `learning rate ${this.lr}`);
    check(
      this.betas.every((b) => b >= 0 && b < 1),
      `betas [${this.betas}] (each in [0, 1))`,
    );
    check(this.eps >= 0, `eps ${this.eps}`);
    check(this.weightDecay >= 0, `weight decay ${this.weightDecay}`);
  }

  /**
   * Applies one update with learning rate `lr` (the schedule's value for this step). Parameters whose
   * gradient is undefined are skipped entirely, as torch skips `p.grad is None` (no decay, no state).
   */
  step(grads: readonly (Float32Array | undefined)[], lr: number, gradScale = 1): void {
    if (grads.length !== this.params.length)
      throw new TrainingError(`AdamW.step: ${grads.length} gradients for ${this.params.length} parameters`);
    this.stepCount++;
    this.params.forEach((param, i) => {
      const g = grads[i];
      if (!g) return;
      const size = param.variable.size;
      if (g.length !== size)
        throw new TrainingError(
          `AdamW.step: gradient of ${param.name} has ${g.length} values, expected ${size}`,
        );
      const s = this.stateFor(param.name, size);
      const h = this.hyper(lr, param.decay, gradScale);
      // Computed straight into the variable's next buffer (on wasm: heap to heap, no JS copies to allocate).
      rewriteVariable(param.variable, (next, current) => {
        adamwUpdateParallel(next, g, s.expAvg, s.expAvgSq, this.stepCount, h, current);
      });
    });
  }

  hyper(lr: number, decay: boolean, gradScale = 1): AdamWHyper {
    return {
      lr,
      beta1: this.betas[0],
      beta2: this.betas[1],
      eps: this.eps,
      weightDecay: decay ? this.weightDecay : 0,
      gradScale,
    };
  }

  /** The state of `name`, created as zeros on first use (torch creates it lazily too). */
  stateFor(name: string, size: number): AdamState {
    let s = this.state.get(name);
    if (!s) {
      s = { expAvg: sharedFloat32(size), expAvgSq: sharedFloat32(size) };
      this.state.set(name, s);
    }
    return s;
  }

  save(dir: string): Promise<void> {
    return saveOptimizerState(this, join(dir, OPTIMIZER_FILE));
  }

  load(dir: string): void {
    loadOptimizerState(this, join(dir, OPTIMIZER_FILE));
  }

  /** Float values held in optimizer state (2 per parameter value that has received a gradient). */
  get stateSize(): number {
    let n = 0;
    for (const s of this.state.values()) n += s.expAvg.length + s.expAvgSq.length;
    return n;
  }
}

/** Replaces a variable's values from JS memory (one upload; the temporary tensor is freed). */
export function writeVariable(v: tf.Variable, data: Float32Array): void {
  const t = tf.tensor(data, v.shape, "float32");
  v.assign(t);
  t.dispose();
}
