// Additive attention biases. Masked entries get float32's lowest value, as HF does, so a query row that is
// masked everywhere (a left-padding position) degrades to uniform attention exactly as in transformers.
import * as tf from "@tensorflow/tfjs-core";
import { ShapeError } from "../errors.js";

export const MASK_VALUE = -3.4028234663852886e38;

export interface AttentionBiasOptions {
  batch: number;
  /** Number of new query positions. */
  queryLength: number;
  /** Positions already in the KV cache, before the queries. */
  pastLength?: number;
  /** [B, pastLength + queryLength] with 1 = attend, 0 = padding; omitted = no padding. */
  attentionMask?: ArrayLike<number>;
  /** false for bidirectional attention (CLIP). */
  causal?: boolean;
}

/** [B, 1, T, S] bias with 0 where query t may attend key s and MASK_VALUE elsewhere. */
export function attentionBias(opts: AttentionBiasOptions): tf.Tensor {
  const { batch: B, queryLength: T, pastLength: P = 0, attentionMask, causal = true } = opts;
  const S = P + T;
  if (attentionMask && attentionMask.length !== B * S)
    throw new ShapeError(`attentionBias: mask has ${attentionMask.length} entries, expected [${B}, ${S}]`, [
      B,
      S,
    ]);
  const bias = new Float32Array(B * T * S);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let s = 0; s < S; s++) {
        const future = causal && s > P + t;
        const padded = attentionMask !== undefined && attentionMask[b * S + s] === 0;
        bias[(b * T + t) * S + s] = future || padded ? MASK_VALUE : 0;
      }
  return tf.tensor4d(bias, [B, 1, T, S]);
}
