// Rotary position embeddings in HF's rotate_half convention (modeling_qwen2.py).
// Shape legend: B batch, H heads, T positions, D head dim.
import * as tf from "@tensorflow/tfjs-core";
import { ShapeError } from "../errors.js";

/**
 * cos and sin tables [B, T, D] for integer positions [B, T]. Computed in JS but rounded to float32 at
 * each step exactly where torch computes in float32, so angles at large positions match HF's bit for bit
 * (up to libm's last ulp).
 */
export function rotaryCosSin(
  positions: ArrayLike<number>,
  shape: readonly [number, number],
  headDim: number,
  theta: number,
): { cos: tf.Tensor; sin: tf.Tensor } {
  const [B, T] = shape;
  if (positions.length !== B * T)
    throw new ShapeError(`rotaryCosSin: ${positions.length} positions for shape [${B}, ${T}]`);
  const f = Math.fround;
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = f(1 / f(theta ** f(f(2 * i) / headDim)));
  const cos = new Float32Array(B * T * headDim);
  const sin = new Float32Array(B * T * headDim);
  for (let p = 0; p < B * T; p++) {
    const pos = f(positions[p]);
    for (let i = 0; i < half; i++) {
      const angle = f(invFreq[i] * pos);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      // emb = cat(freqs, freqs): both halves carry the same angles.
      cos[p * headDim + i] = cos[p * headDim + half + i] = c;
      sin[p * headDim + i] = sin[p * headDim + half + i] = s;
    }
  }
  return { cos: tf.tensor3d(cos, [B, T, headDim]), sin: tf.tensor3d(sin, [B, T, headDim]) };
}

/** [x1, x2] → [-x2, x1] along the last axis. */
export function rotateHalf(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [x1, x2] = tf.split(x, 2, x.rank - 1);
    return tf.concat([x2.neg(), x1], x.rank - 1);
  });
}

/**
 * R with x·R = rotate_half(x) along the last axis: R[j + D/2, j] = −1, R[j, j + D/2] = 1. Cached per
 * backend: a page that switches backends would otherwise have tfjs move R with a synchronous read, which
 * on WebGPU over SwiftShader returns wrong values.
 */
const rotations = new Map<string, tf.Tensor>();
function rotationMatrix(D: number): tf.Tensor {
  const key = `${tf.getBackend()}:${D}`;
  let r = rotations.get(key);
  if (!r || r.isDisposed) {
    const half = D / 2;
    const m = new Float32Array(D * D);
    for (let j = 0; j < half; j++) {
      m[(j + half) * D + j] = -1;
      m[j * D + j + half] = 1;
    }
    r = tf.keep(tf.tensor2d(m, [D, D]));
    rotations.set(key, r);
  }
  return r;
}

/**
 * x · cos + rotate_half(x) · sin for x [B, H, T, D] and tables [B, T, D] (or already [B, 1, T, D]).
 * rotate_half is one product with a ±1 permutation matrix (exact: one non-zero term per output) instead
 * of split + neg + concat: fewer ops per layer, which is what a decoding step pays for.
 */
export function applyRotary(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const c = cos.rank === 3 ? cos.expandDims(1) : cos; // [B, 1, T, D]
    const s = sin.rank === 3 ? sin.expandDims(1) : sin; // [B, 1, T, D]
    return x.mul(c).add(tf.matMul(x, rotationMatrix(x.shape[x.rank - 1])).mul(s));
  });
}
