// Test helper: a tiny per-token classifier whose loss, like a causal LM's, is the mean over labelled
// positions only (-100 = unlabelled), so ranks with different numbers of labelled tokens exercise
// ZeRO-2's token weighting. Batches are seeded, so every rank can build the same global batch.
import { IGNORE_INDEX, LayerNorm, Linear, Module, normalInit, Rng } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import type { TrainTask } from "../src/train-task.js";

const D = 4; // input features
const C = 5; // classes

export class TinyTokenModel extends Module {
  lin1: Linear;
  norm: LayerNorm;
  lin2: Linear;
  constructor(seed = 1) {
    super();
    const rng = new Rng(seed);
    this.lin1 = this.module("lin1", new Linear(D, 9, { init: normalInit(0.5, rng) }));
    this.norm = this.module("norm", new LayerNorm(9));
    this.lin2 = this.module("lin2", new Linear(9, C, { init: normalInit(0.5, rng) }));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.lin2.forward(tf.relu(this.norm.forward(this.lin1.forward(x))))); // [B, T, C]
  }
}

export interface TokenBatch {
  batchSize: number; // B
  seqLength: number; // T
  x: Float32Array; // [B, T, D]
  labels: Int32Array; // [B, T], -100 = no loss
}

export const tokenLabelCount = (b: TokenBatch) =>
  b.labels.reduce((n, y) => n + (y === IGNORE_INDEX ? 0 : 1), 0);

export function tokenTask(model: TinyTokenModel, onLoss?: () => void): TrainTask<TokenBatch> {
  return {
    count: (b) => {
      const n = tokenLabelCount(b);
      return { samples: b.batchSize, tokens: n, images: 0, lossTokens: n };
    },
    prepare(b) {
      const rows = Int32Array.from(b.labels.keys()).filter((i) => b.labels[i] !== IGNORE_INDEX);
      const x = tf.tensor3d(b.x, [b.batchSize, b.seqLength, D]);
      const targets = tf.oneHot(
        tf.tensor1d(
          Int32Array.from(rows, (i) => b.labels[i]),
          "int32",
        ),
        C,
      );
      const picked = tf.tensor1d(rows, "int32");
      return {
        loss: () => {
          onLoss?.();
          const logits = model.forward(x).reshape([-1, C]).gather(picked); // [N, C]
          return tf.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar; // mean over the N labelled
        },
        dispose: () => tf.dispose([x, targets, picked]),
      };
    },
  };
}

/** `count` batches of B rows; row b has its last `b + 1` of T positions unlabelled (uneven counts). */
export function tokenBatches(count: number, B: number, T = 6, seed = 3): TokenBatch[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const x = Float32Array.from({ length: B * T * D }, () => rng.normal());
    const labels = Int32Array.from({ length: B * T }, (_, i) =>
      i % T >= T - 1 - (Math.floor(i / T) % (T - 1)) ? IGNORE_INDEX : rng.int(C),
    );
    return { batchSize: B, seqLength: T, x, labels };
  });
}

/** Rows [rank·B/N, (rank+1)·B/N) of a batch. */
export function tokenRows(b: TokenBatch, rank: number, worldSize: number): TokenBatch {
  const rows = b.batchSize / worldSize;
  const T = b.seqLength;
  return {
    batchSize: rows,
    seqLength: T,
    x: b.x.slice(rank * rows * T * D, (rank + 1) * rows * T * D),
    labels: b.labels.slice(rank * rows * T, (rank + 1) * rows * T),
  };
}
