import * as tf from "@tensorflow/tfjs-core";

/** torch.nn.LayerNorm over the last axis: biased variance, eps inside the square root. */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = x.mean(axis, true); // [..., 1]
    const centred = x.sub(mean);
    const variance = centred.square().mean(axis, true); // [..., 1]
    return centred.mul(variance.add(eps).rsqrt()).mul(weight).add(bias);
  });
}
