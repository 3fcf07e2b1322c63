// torch.optim.AdamW's update (torch 1.13, single-tensor path) on flat Float32Arrays, in torch's order of
// operations, and its hyper-parameters. The optimizer that owns the state and applies this update to a
// rank's partition of the parameters is zero2/partitioned-adamw.ts (one rank: all of them).
import { type LoopBody, splitLoop } from "@llava-ts/core/internal";
import type * as tf from "@tensorflow/tfjs-core";
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
 * Returns how many of the values written are NaN or ±Inf as stored (float32).
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
): number {
  const decay = 1 - h.lr * h.weightDecay;
  const { beta1: b1, beta2: b2, eps } = h;
  const a1 = 1 - b1;
  const a2 = 1 - b2;
  const stepSize = h.lr / (1 - b1 ** step);
  const bc2Sqrt = Math.sqrt(1 - b2 ** step);
  const scale = Math.fround(h.gradScale ?? 1);
  // Σ|p| as written, in double: below the smallest magnitude float32 rounds to ±Inf, (2 − 2⁻²⁴)·2¹²⁷,
  // only if every value stored is finite. Free inside this loop (measured: a separate counting pass over
  // freeze_vision's 97 M values cost ~0.12 s a step); the exact count runs only when it is not.
  // (Literals only: the second-core helper runs this function from its text.)
  let magnitude = 0;
  for (let i = from; i < to; i++) {
    const gi = Math.fround(g[i] * scale); // exact when scale is 1
    const mi = b1 * m[i] + a1 * gi;
    const vi = b2 * v[i] + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const pi = source[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
    p[i] = pi;
    magnitude += Math.abs(pi);
  }
  if (magnitude < 3.4028235677973366e38) return 0;
  let nonFinite = 0;
  for (let i = from; i < to; i++) if (p[i] - p[i] !== 0) nonFinite++; // NaN and ±Inf: x − x is not 0
  return nonFinite;
}

/** adamwUpdate on [from, to) of p, g, m, v, source: the helper thread's part runs from this text. */
function adamwPart(a: Float32Array[], from: number, to: number, extra: unknown): number {
  const x = extra as { step: number; h: AdamWHyper };
  return adamwUpdate(a[0], a[1], a[2], a[3], x.step, x.h, from, to, a[4]);
}

/**
 * adamwUpdate over all of `p`, the upper half on core's second-core helper when every array is shared
 * memory (the trainer's gradients and state are; so is the threaded wasm heap): the same bits as one thread.
 * Returns the count of non-finite values written.
 */
export function adamwUpdateParallel(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  step: number,
  h: AdamWHyper,
  source: Float32Array = p,
): number {
  return splitLoop(adamwPart as LoopBody, [p, g, m, v, source], p.length, {
    extra: { step, h },
    deps: [adamwUpdate],
  });
}

export interface OptimizerParam {
  name: string;
  variable: tf.Variable;
  /** Whether weight decay applies (false for biases and norm weights under HF's grouping). */
  decay: boolean;
}

/** AdamW's hyper-parameters, checked: torch's defaults filled in. */
export interface AdamWConfig {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

/** torch.optim.AdamW's defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8) and its argument checks. */
export function adamwConfig(options: AdamWOptions = {}): AdamWConfig {
  const c: AdamWConfig = {
    lr: options.lr ?? 1e-3,
    betas: options.betas ?? [0.9, 0.999],
    eps: options.eps ?? 1e-8,
    weightDecay: options.weightDecay ?? 0,
  };
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new TrainingError(`AdamW: invalid ${what}`);
  };
  check(c.lr >= 0, `learning rate ${c.lr}`);
  check(
    c.betas.every((b) => b >= 0 && b < 1),
    `betas [${c.betas}] (each in [0, 1))`,
  );
  check(c.eps >= 0, `eps ${c.eps}`);
  check(c.weightDecay >= 0, `weight decay ${c.weightDecay}`);
  return c;
}

/** The update's constants for one parameter group at learning rate `lr` (no decay for `decay` false). */
export function adamwHyper(c: AdamWConfig, lr: number, decay: boolean, gradScale = 1): AdamWHyper {
  return {
    lr,
    beta1: c.betas[0],
    beta2: c.betas[1],
    eps: c.eps,
    weightDecay: decay ? c.weightDecay : 0,
    gradScale,
  };
}
