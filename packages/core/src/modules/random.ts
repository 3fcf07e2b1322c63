// Seeded randomness that does not depend on the backend: the same seed gives the same weights on wasm,
// cpu and native TensorFlow, and a training run's RNG state can be saved as one number.

import { brandClass } from "../errors.js";

/** mulberry32: a small, fast 32-bit generator; `state` is all there is to save and restore. */
export class Rng {
  static {
    brandClass(Rng, "@llava-ts/core:Rng");
  }
  state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

export type Initializer = (shape: readonly number[]) => Float32Array;

export const zerosInit: Initializer = (shape) => new Float32Array(size(shape));
export const onesInit: Initializer = (shape) => new Float32Array(size(shape)).fill(1);

/** N(0, std²) from a seeded generator, as HF's `_init_weights` uses `initializer_range` for std. */
export function normalInit(std: number, rng: Rng): Initializer {
  return (shape) => {
    const out = new Float32Array(size(shape));
    for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
    return out;
  };
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
