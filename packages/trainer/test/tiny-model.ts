// A small regression model for the trainer's generic tests: linear → layer norm → linear, MSE loss.
import { LayerNorm, Linear, Module, normalInit, Rng } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import type { TrainTask } from "../src/train-task.js";
import { Trainer } from "../src/trainer.js";
import type { TrainerOptions } from "../src/trainer-options.js";

export class TinyModel extends Module {
  lin1: Linear;
  norm: LayerNorm;
  lin2: Linear;
  constructor(seed = 1) {
    super();
    const rng = new Rng(seed);
    this.lin1 = this.module("lin1", new Linear(4, 8, { init: normalInit(0.5, rng) }));
    this.norm = this.module("norm", new LayerNorm(8));
    this.lin2 = this.module("lin2", new Linear(8, 2, { init: normalInit(0.5, rng) }));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.lin2.forward(tf.relu(this.norm.forward(this.lin1.forward(x)))));
  }
}

export interface TinyBatch {
  x: Float32Array; // [n, 4]
  y: Float32Array; // [n, 2]
  /** Makes the loss NaN (for the stop test). */
  poison?: boolean;
}

export function tinyTask(model: TinyModel): TrainTask<TinyBatch> {
  return {
    count: (b) => ({
      samples: b.x.length / 4,
      tokens: b.x.length / 4,
      images: 0,
      lossTokens: b.x.length / 2,
    }),
    prepare(b) {
      const n = b.x.length / 4;
      const x = tf.tensor2d(b.x, [n, 4]);
      const y = tf.tensor2d(b.y, [n, 2]);
      return {
        loss: () => {
          const l = tf.mean(tf.square(model.forward(x).sub(y))) as tf.Scalar;
          return b.poison ? (l.mul(Number.NaN) as tf.Scalar) : l;
        },
        dispose: () => tf.dispose([x, y]),
      };
    },
  };
}

/** `count` batches of `n` rows from a seeded generator. */
export function tinyBatches(count: number, n: number, seed = 7): TinyBatch[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => ({
    x: Float32Array.from({ length: n * 4 }, () => rng.normal()),
    y: Float32Array.from({ length: n * 2 }, () => rng.normal()),
  }));
}

/** Concatenates batches row-wise (for accumulation-equivalence checks). */
export function concatBatches(batches: TinyBatch[]): TinyBatch {
  const cat = (xs: Float32Array[]) => {
    const out = new Float32Array(xs.reduce((a, x) => a + x.length, 0));
    let o = 0;
    for (const x of xs) {
      out.set(x, o);
      o += x.length;
    }
    return out;
  };
  return { x: cat(batches.map((b) => b.x)), y: cat(batches.map((b) => b.y)) };
}

export function snapshot(model: Module): Map<string, Float32Array> {
  return new Map(
    [...model.namedParameters()].map(([n, p]) => [n, Float32Array.from(p.dataSync() as Float32Array)]),
  );
}

/** A progress sink that drops everything. */
export const QUIET = { write: () => true, isTTY: false };

/** A Trainer for `model` on tinyTask: AdamW(lr 0.05, weight decay 0.01), no progress output; `options` win. */
export function tinyTrainer(model: TinyModel, options: TrainerOptions<TinyBatch> = {}): Trainer<TinyBatch> {
  return new Trainer(model, {
    task: tinyTask(model),
    optimizer: { lr: 0.05, weightDecay: 0.01 },
    progress: QUIET,
    ...options,
  });
}
