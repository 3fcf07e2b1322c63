// Scaled dot-product attention with grouped KV heads (GQA).
// Shape legend: B batch, H query heads, K kv heads, R = H / K, T queries, S keys, D head dim.
import * as tf from "@tensorflow/tfjs-core";
import { ShapeError } from "../errors.js";

/**
 * softmax(q kᵀ · scale + bias) v. Query head h reads kv head floor(h / R), as HF's repeat_kv; instead of
 * copying K and V R times, the R query heads of a group are stacked along T and share one matmul.
 */
export function scaledDotProductAttention(
  q: tf.Tensor, // [B, H, T, D]
  k: tf.Tensor, // [B, K, S, D]
  v: tf.Tensor, // [B, K, S, D]
  bias?: tf.Tensor | null, // [B | 1, 1, T, S]
  scale?: number,
): tf.Tensor {
  const [B, H, T, D] = q.shape;
  const [, K, S] = k.shape;
  if (k.rank !== 4 || v.rank !== 4 || k.shape[0] !== B || k.shape[3] !== D || v.shape[2] !== S)
    throw new ShapeError(
      `attention: q [${q.shape}], k [${k.shape}], v [${v.shape}] do not fit`,
      [B, "K", "S", D],
      k.shape,
    );
  if (H % K !== 0) throw new ShapeError(`attention: ${H} query heads are not a multiple of ${K} kv heads`);
  const R = H / K;
  const s = scale ?? 1 / Math.sqrt(D);
  return tf.tidy(() => {
    const qg = q.reshape([B, K, R * T, D]); // [B, K, R·T, D]
    let scores = tf.matMul(qg, k, false, true).mul(s); // [B, K, R·T, S]
    scores = scores.reshape([B, H, T, S]);
    if (bias) scores = scores.add(bias);
    const probs = tf.softmax(scores, -1).reshape([B, K, R * T, S]);
    return tf.matMul(probs, v).reshape([B, H, T, D]); // [B, H, T, D]
  });
}
