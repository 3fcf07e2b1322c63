// Integer inputs (ids, masks, labels, positions) arrive as tensors or JS arrays; the mask, labels and
// positions are needed in JS anyway (bias tables, loss rows), so they are flattened to Int32Array here.

import { ShapeError } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";

/** A [B, T] integer input: an int tensor, nested arrays, or a flat row-major array. */
export type IntInput = tf.Tensor | readonly (readonly number[])[] | ArrayLike<number>;

/** Flattens `x` to B·T int32 values, checking the shape; `name` goes into the error. */
export function intArray(x: IntInput, batch: number, length: number, name: string): Int32Array {
  let out: Int32Array;
  if (x instanceof tf.Tensor) {
    if (x.rank !== 2 || x.shape[0] !== batch || x.shape[1] !== length)
      throw new ShapeError(
        `${name}: expected [${batch}, ${length}], found [${x.shape}]`,
        [batch, length],
        x.shape,
      );
    out = Int32Array.from(x.dataSync() as ArrayLike<number>);
  } else if (isNested(x)) {
    if (x.length !== batch || x.some((row) => row.length !== length))
      throw new ShapeError(
        `${name}: expected [${batch}, ${length}], found rows of lengths [${x.map((r) => r.length)}]`,
        [batch, length],
      );
    out = Int32Array.from(x.flat());
  } else {
    if (x.length !== batch * length)
      throw new ShapeError(
        `${name}: expected ${batch}·${length} values, found ${x.length}`,
        [batch, length],
        [x.length],
      );
    out = Int32Array.from(x);
  }
  return out;
}

/** The [B, T] shape of an id input. */
export function intShape(x: IntInput, name: string): [number, number] {
  if (x instanceof tf.Tensor) {
    if (x.rank !== 2)
      throw new ShapeError(`${name}: expected [B, T], found [${x.shape}]`, ["B", "T"], x.shape);
    return [x.shape[0]!, x.shape[1]!];
  }
  if (isNested(x)) return [x.length, x[0]?.length ?? 0];
  throw new ShapeError(`${name}: a flat array needs an explicit shape; pass a tensor or nested rows`);
}

function isNested(x: IntInput): x is readonly (readonly number[])[] {
  return Array.isArray(x) && (x.length === 0 || Array.isArray(x[0]));
}

/** 0, 1, …, T-1 shifted by `past` in every row: what HF's forward uses when no position_ids are given. */
export function arangePositionIds(batch: number, length: number, past = 0): Int32Array {
  const out = new Int32Array(batch * length);
  for (let b = 0; b < batch; b++) for (let t = 0; t < length; t++) out[b * length + t] = past + t;
  return out;
}

/**
 * HF generate's positions for padded prompts: cumsum(mask) - 1, with padded positions set to 1. `mask` is
 * [B, S]; the last `length` columns are returned ([B, length]).
 */
export function positionIdsFromMask(
  mask: ArrayLike<number>,
  batch: number,
  total: number,
  length = total,
): Int32Array {
  if (mask.length !== batch * total)
    throw new ShapeError(`attention mask: expected ${batch}·${total} values, found ${mask.length}`, [
      batch,
      total,
    ]);
  const out = new Int32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    let seen = 0;
    for (let s = 0; s < total; s++) {
      const on = mask[b * total + s] !== 0;
      if (on) seen++;
      const t = s - (total - length);
      if (t >= 0) out[b * length + t] = on ? seen - 1 : 1;
    }
  }
  return out;
}
