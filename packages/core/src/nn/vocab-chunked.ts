// The output projection of a vocabulary-sized matrix W [V, E] one chunk of rows at a time, so W never has
// to be in the heap whole (Qwen2.5's tied embedding is 151,936 × 3584 for 7B: 2.2 GB as float32).
// Logits are the chunks side by side; the loss is exact: a running log-sum-exp across chunks.
// Shape legend: N rows (positions), E hidden size, V vocabulary, n rows of one chunk.
import * as tf from "@tensorflow/tfjs-core";
import { hostMemoryBackend, tensorFrom, valuesOf } from "../backend/tensor-io.js";
import { ShapeError } from "../errors.js";
import { crossEntropy } from "./causal-lm-loss.js";

/** W [V, E] in chunks of rows: chunk c is rows [start(c), start(c) + rows(c)). */
export interface VocabChunks {
  readonly vocabSize: number;
  readonly count: number;
  start(c: number): number;
  /** The chunk's weights [n, E] in the heap; owned by the provider (not disposed by the caller). */
  weight(c: number): tf.Tensor;
}

/** h [N, E] → logits [N, V], computed chunk by chunk. */
export function chunkedLogits(h: tf.Tensor, chunks: VocabChunks): tf.Tensor {
  return tf.tidy(() => {
    const parts: tf.Tensor[] = [];
    for (let c = 0; c < chunks.count; c++) parts.push(tf.matMul(h, chunks.weight(c), false, true)); // [N, n]
    return parts.length === 1 ? parts[0] : tf.concat(parts, 1); // [N, V]
  });
}

/**
 * Mean negative log-likelihood of `targets` under h·Wᵀ, never forming [N, V]: forward keeps a running max
 * and sum per row (in double); backward recomputes each chunk's logits and adds (softmax − onehot)·W_c·dy/N
 * into the gradient of h. W is frozen here (an offloaded matrix): only h gets a gradient. On a GPU backend
 * (webgl, webgpu), whose values are not in host memory, the chunks' logits are joined and tfjs ops take it.
 */
export function chunkedCrossEntropy(h: tf.Tensor, chunks: VocabChunks, targets: Int32Array): tf.Tensor {
  const N = h.shape[0] as number;
  if (N !== targets.length)
    throw new ShapeError(`chunkedCrossEntropy: ${N} rows of hidden states for ${targets.length} targets`);
  const V = chunks.vocabSize;
  for (const y of targets)
    if (!(y >= 0 && y < V)) throw new ShapeError(`chunkedCrossEntropy: target ${y} is outside [0, ${V})`);
  if (N === 0) return tf.scalar(Number.NaN);
  if (!hostMemoryBackend()) return tf.tidy(() => crossEntropy(chunkedLogits(h, chunks), targets)); // [N, V] on the GPU
  const lse = new Float64Array(N); // log Σ exp(z) per row, for the backward
  const fused = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const max = new Float64Array(N).fill(-Infinity);
    const sum = new Float64Array(N);
    const target = new Float64Array(N);
    for (let c = 0; c < chunks.count; c++) {
      const z = tf.matMul(x, chunks.weight(c), false, true); // [N, n]
      accumulate(valuesOf(z), z.shape[1] as number, chunks.start(c), targets, max, sum, target);
      z.dispose();
    }
    let total = 0;
    for (let r = 0; r < N; r++) {
      lse[r] = max[r] + Math.log(sum[r]);
      total += lse[r] - target[r];
    }
    save([x]);
    return {
      value: tf.scalar(total / N),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const scale = (dy.dataSync()[0] as number) / N;
        const [hs] = saved;
        let dh: tf.Tensor = tf.zeros(hs.shape);
        for (let c = 0; c < chunks.count; c++) {
          const w = chunks.weight(c);
          const z = tf.matMul(hs, w, false, true); // [N, n]
          const n = z.shape[1] as number;
          const g = tensorFrom([N, n], (out) => {
            softmaxGrad(valuesOf(z), out, n, chunks.start(c), targets, lse, scale);
          }); // (softmax − onehot)·scale: [N, n]
          z.dispose();
          const next = dh.add(tf.matMul(g, w)); // [N, E]
          tf.dispose([dh, g]);
          dh = next;
        }
        return dh;
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return fused(h);
}

/** Folds one chunk's logits z [N, n] (columns from `start`) into the running max / sum / target logit. */
function accumulate(
  z: Float32Array,
  n: number,
  start: number,
  targets: Int32Array,
  max: Float64Array,
  sum: Float64Array,
  target: Float64Array,
): void {
  for (let r = 0, o = 0; r < max.length; r++, o += n) {
    let m = max[r];
    for (let j = o; j < o + n; j++) if (z[j] > m) m = z[j];
    let s = sum[r] * Math.exp(max[r] - m); // rescale the earlier chunks' sum to the new max
    for (let j = o; j < o + n; j++) s += Math.exp(z[j] - m);
    max[r] = m;
    sum[r] = s;
    const t = targets[r] - start;
    if (t >= 0 && t < n) target[r] = z[o + t];
  }
}

/** out = (exp(z − lse) − onehot) · scale for one chunk. */
function softmaxGrad(
  z: Float32Array,
  out: Float32Array,
  n: number,
  start: number,
  targets: Int32Array,
  lse: Float64Array,
  scale: number,
): void {
  for (let r = 0, o = 0; r < lse.length; r++, o += n) {
    const l = lse[r];
    for (let j = 0; j < n; j++) out[o + j] = Math.exp(z[o + j] - l) * scale;
    const t = targets[r] - start;
    if (t >= 0 && t < n) out[o + t] -= scale;
  }
}
