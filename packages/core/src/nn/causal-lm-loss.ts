// HF's causal-LM loss: predict token t+1 from position t; labels -100 are ignored; mean over the rest.
import * as tf from "@tensorflow/tfjs-core";
import { splitLoop } from "../backend/second-core.js";
import { hostMemoryBackend, tensorFrom, valuesOf } from "../backend/tensor-io.js";
import { ShapeError } from "../errors.js";

export const IGNORE_INDEX = -100;

/** Positions whose logits are needed for the loss: row b·T + t predicts labels[b, t + 1]. */
export function labelledPositions(
  labels: ArrayLike<number>,
  batch: number,
  length: number,
): { rows: Int32Array; targets: Int32Array } {
  if (labels.length !== batch * length)
    throw new ShapeError(`labels have ${labels.length} entries, expected [${batch}, ${length}]`);
  const rows: number[] = [];
  const targets: number[] = [];
  for (let b = 0; b < batch; b++)
    for (let t = 0; t + 1 < length; t++) {
      const y = labels[b * length + t + 1];
      if (y === IGNORE_INDEX) continue;
      rows.push(b * length + t);
      targets.push(y);
    }
  return { rows: Int32Array.from(rows), targets: Int32Array.from(targets) };
}

/**
 * Mean negative log-likelihood of `targets` under `logits` [N, V]; N = 0 gives NaN as torch does.
 * One fused pass over the logits in JS, with its own gradient: log-sum-exp per row (in double) and the
 * softmax saved for the backward, which is then (softmax − onehot)·dy/N. At Qwen's 151,936-word vocabulary
 * this replaces logSoftmax + a gather over N·V values + their gradients (three wasm exp passes, an
 * N·V scatter) with one exp pass — and never builds a one-hot [N, V] matrix. Half the rows go to a
 * second core when the wasm heap is shared (core's splitLoop). On a GPU backend (webgl, webgpu), whose
 * values are not in host memory, it is tfjs ops: log-sum-exp minus the target's logit, autodiff's gradient.
 */
export function crossEntropy(logits: tf.Tensor, targets: Int32Array): tf.Tensor {
  const [N, V] = logits.shape;
  if (N !== targets.length)
    throw new ShapeError(`crossEntropy: ${N} rows of logits for ${targets.length} targets`);
  for (const y of targets)
    if (!(y >= 0 && y < V)) throw new ShapeError(`crossEntropy: target ${y} is outside [0, ${V})`);
  if (N === 0) return tf.scalar(Number.NaN);
  if (!hostMemoryBackend())
    return tf.tidy(() => {
      const picked = tf.gather(logits, tf.tensor2d(targets, [N, 1], "int32"), 1, 1); // [N, 1]: z[r, y_r]
      const nll = tf.logSumExp(logits, 1).sub(picked.reshape([N])); // [N]: −log softmax at the target
      return nll.mean(); // []
    });
  const fused = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    let total = 0;
    const probs = tensorFrom([N, V], (p) => {
      const z = valuesOf(x); // after the allocation: a heap view stays valid
      // Rows split over two cores when the heap is shared memory (the threaded wasm build).
      total = splitLoop(softmaxRows, [z, p], N, { extra: { V, targets }, weight: V });
    });
    save([probs]);
    probs.dispose();
    return {
      value: tf.scalar(total / N),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const scale = (dy.dataSync()[0] as number) / N;
        return tensorFrom([N, V], (g) => {
          const p = valuesOf(saved[0]);
          splitLoop(softmaxGradRows, [p, g], N, { extra: { V, targets, scale }, weight: V });
        });
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return fused(logits);
}

/**
 * Rows [from, to) of the fused cross-entropy's forward: p = softmax(z) per row; returns Σ −log softmax at
 * the target. Self-contained: the second-core helper runs it from its text.
 */
function softmaxRows(a: Float32Array[], from: number, to: number, extra: unknown): number {
  const { V, targets } = extra as { V: number; targets: Int32Array };
  const z = a[0];
  const p = a[1];
  let total = 0;
  for (let r = from, o = from * V; r < to; r++, o += V) {
    let max = -Infinity;
    for (let j = o; j < o + V; j++) if (z[j] > max) max = z[j];
    let sum = 0;
    for (let j = o; j < o + V; j++) {
      const e = Math.exp(z[j] - max);
      p[j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = o; j < o + V; j++) p[j] *= inv;
    total += max + Math.log(sum) - z[o + targets[r]]; // −log softmax at the target
  }
  return total;
}

/** Rows [from, to) of its gradient: (softmax − onehot) · scale. */
function softmaxGradRows(a: Float32Array[], from: number, to: number, extra: unknown): number {
  const { V, targets, scale } = extra as { V: number; targets: Int32Array; scale: number };
  const p = a[0];
  const g = a[1];
  for (let i = from * V; i < to * V; i++) g[i] = p[i] * scale;
  for (let r = from; r < to; r++) g[r * V + targets[r]] -= scale;
  return 0;
}

/** The full loss from logits [B, T, V] and labels [B, T] (shifted inside, as transformers does). */
export function causalLmLoss(logits: tf.Tensor, labels: ArrayLike<number>): tf.Tensor {
  const [B, T, V] = logits.shape;
  const { rows, targets } = labelledPositions(labels, B, T);
  return tf.tidy(() =>
    crossEntropy(tf.gather(logits.reshape([B * T, V]), tf.tensor1d(rows, "int32")), targets),
  );
}
