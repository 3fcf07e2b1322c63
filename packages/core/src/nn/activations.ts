// Activations by their HF `hidden_act` names (transformers/activations.py).
import * as tf from "@tensorflow/tfjs-core";
import { ConfigError } from "../errors.js";

/** CLIP's x · σ(1.702 x). */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => x.mul(tf.sigmoid(x.mul(1.702))));
}

/** Exact GELU as torch's default: 0.5 x (1 + erf(x / √2)). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => x.mul(0.5).mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)));
}

/** The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return x.mul(0.5).mul(tf.tanh(inner).add(1));
  });
}

/** x · σ(x), also called swish. */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => x.mul(tf.sigmoid(x)));
}

export type Activation = (x: tf.Tensor) => tf.Tensor;

const ACTIVATIONS: Record<string, Activation> = {
  gelu,
  quick_gelu: quickGelu,
  gelu_new: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  silu,
  swish: silu,
  relu: (x) => tf.relu(x),
};

/** The `hidden_act` names llava-ts knows, for config validation. */
export const ACTIVATION_NAMES: readonly string[] = Object.keys(ACTIVATIONS);

/** The activation HF means by `name`; a ConfigError lists the known names otherwise. */
export function getActivation(name: string, key = "hidden_act"): Activation {
  const fn = ACTIVATIONS[name];
  if (!fn)
    throw new ConfigError(`unknown activation "${name}"; known: ${Object.keys(ACTIVATIONS).join(", ")}`, key);
  return fn;
}
