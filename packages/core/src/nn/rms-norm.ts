import * as tf from "@tensorflow/tfjs";

/** Qwen2RMSNorm: x / sqrt(mean(x²) + eps) · weight (no mean subtraction, no bias). */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const variance = x.square().mean(x.rank - 1, true); // [..., 1]
    return x.mul(variance.add(eps).rsqrt()).mul(weight);
  });
}
