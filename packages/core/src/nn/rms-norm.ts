// Shape legend: N rows (all leading dims), D features.
import * as tf from "@tensorflow/tfjs-core";
import { hostMemoryBackend, tensorFrom, valuesOf } from "../backend/tensor-io.js";

/**
 * Qwen2RMSNorm: x / sqrt(mean(x²) + eps) · weight (no mean subtraction, no bias).
 * One fused pass in JS with its own gradient: six tfjs ops (and their saved intermediates) become one,
 * which matters when decoding runs 13 norms per token at tens of µs of dispatch each. With r = 1/rms:
 *   dx = r·(dy·w) − x·r³·Σ(dy·w·x)/D,   dw = Σ_rows dy·x·r.
 * On a GPU backend (webgl, webgpu) the values are not in host memory: tfjs ops there, as HF writes it.
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps = 1e-6): tf.Tensor {
  if (!hostMemoryBackend())
    return tf.tidy(() => x.mul(x.square().mean(-1, true).add(eps).rsqrt()).mul(weight)); // [N, D]
  const D = x.shape[x.rank - 1];
  const N = x.size / D;
  const fused = tf.customGrad(((xs: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    save([xs, w]);
    const y = tensorFrom(xs.shape, (out) => {
      const v = valuesOf(xs);
      const g = valuesOf(w);
      for (let n = 0, o = 0; n < N; n++, o += D) {
        const r = inverseRms(v, o, D, eps);
        // float32 rounding of x·r before the weight, as HF's order of operations
        for (let j = 0; j < D; j++) out[o + j] = Math.fround(v[o + j] * r) * g[j];
      }
    });
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs0, w0] = saved;
        const dwAcc = new Float64Array(D);
        const dx = tensorFrom(xs0.shape, (out) => {
          const v = valuesOf(xs0);
          const g = valuesOf(w0);
          const d = valuesOf(dy);
          for (let n = 0, o = 0; n < N; n++, o += D) {
            const r = inverseRms(v, o, D, eps);
            let dot = 0;
            for (let j = 0; j < D; j++) {
              dot += d[o + j] * g[j] * v[o + j];
              dwAcc[j] += d[o + j] * v[o + j] * r;
            }
            const c = (r * r * r * dot) / D;
            for (let j = 0; j < D; j++) out[o + j] = r * d[o + j] * g[j] - v[o + j] * c;
          }
        });
        const dw = tensorFrom(w0.shape, (out) => out.set(dwAcc));
        return [dx, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return fused(x, weight);
}

/** 1 / sqrt(mean(x[o…o+D)²) + eps), the mean in double and rounded to float32 as torch keeps it. */
function inverseRms(v: Float32Array, o: number, D: number, eps: number): number {
  let s = 0;
  for (let j = 0; j < D; j++) s += v[o + j] * v[o + j];
  return Math.fround(1 / Math.sqrt(Math.fround(Math.fround(s / D) + eps)));
}
