// Inverted dropout with an explicit seed: the same seed drops the same elements on every backend
// (tfjs draws uniforms in JS), so a training run with lora_dropout > 0 is reproducible and resumable.
import * as tf from "@tensorflow/tfjs-core";

/** Zeroes each element with probability `rate` and scales the rest by 1 / (1 - rate). */
export function loraDropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (rate === 0) return x.clone();
  return tf.tidy(() => {
    const keep = tf.randomUniform(x.shape, 0, 1, "float32", seed).greaterEqual(rate); // same shape as x
    return x.mul(keep.cast("float32")).div(1 - rate);
  });
}
