// Shape legend: N = any leading dims, I = in features, O = out features.
import * as tf from "@tensorflow/tfjs-core";
import { ShapeError } from "../errors.js";

/** y = x Wᵀ + b with torch's layout: `weight` is [O, I]. */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const [outF, inF] = weight.shape;
  const last = x.shape[x.shape.length - 1];
  if (last !== inF)
    throw new ShapeError(
      `linear: input has ${last} features, weight [${weight.shape}] expects ${inF}`,
      ["…", inF],
      x.shape,
    );
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    const x2 = x.reshape([-1, inF]); // [N, I]
    let y = tf.matMul(x2, weight, false, true); // [N, O]
    if (bias) y = y.add(bias);
    return y.reshape([...lead, outF]); // [..., O]
  });
}
