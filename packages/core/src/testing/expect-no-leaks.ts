import * as tf from "@tensorflow/tfjs-core";

/**
 * Runs `fn` once to warm up (lazy constants, kernels), then again, and throws if the second run left
 * tensors behind. Tensors in what `fn` returns are disposed.
 */
export async function expectNoLeaks<T>(fn: () => T | Promise<T>, label = "call"): Promise<void> {
  tf.dispose(collect(await fn()));
  const before = tf.memory().numTensors;
  tf.dispose(collect(await fn()));
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`${label} leaked ${after - before} tensor(s) (${before} → ${after})`);
}

function collect(x: unknown, out: tf.Tensor[] = []): tf.Tensor[] {
  if (x instanceof tf.Variable) return out; // parameters are owned by their module
  if (x instanceof tf.Tensor) out.push(x);
  else if (Array.isArray(x)) for (const v of x) collect(v, out);
  else if (x && typeof x === "object") for (const v of Object.values(x)) collect(v, out);
  return out;
}
