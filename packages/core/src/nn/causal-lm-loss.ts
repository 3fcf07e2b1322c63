// HF's causal-LM loss: predict token t+1 from position t; labels -100 are ignored; mean over the rest.
import * as tf from "@tensorflow/tfjs";
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

/** Mean negative log-likelihood of `targets` under `logits` [N, V]; N = 0 gives NaN as torch does. */
export function crossEntropy(logits: tf.Tensor, targets: Int32Array): tf.Tensor {
  const [N, V] = logits.shape;
  if (N !== targets.length)
    throw new ShapeError(`crossEntropy: ${N} rows of logits for ${targets.length} targets`);
  // Pick log p(target) by flat index rather than multiplying by a one-hot [N, V] matrix: with Qwen's
  // 151,936-word vocabulary that matrix would cost ~1.2 MB per labelled token, twice.
  const flat = Int32Array.from(targets, (y, i) => i * V + y);
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits, -1).reshape([N * V]); // [N·V]
    return tf.gather(logp, tf.tensor1d(flat, "int32")).sum().neg().div(N);
  });
}

/** The full loss from logits [B, T, V] and labels [B, T] (shifted inside, as transformers does). */
export function causalLmLoss(logits: tf.Tensor, labels: ArrayLike<number>): tf.Tensor {
  const [B, T, V] = logits.shape;
  const { rows, targets } = labelledPositions(labels, B, T);
  return tf.tidy(() =>
    crossEntropy(tf.gather(logits.reshape([B * T, V]), tf.tensor1d(rows, "int32")), targets),
  );
}
