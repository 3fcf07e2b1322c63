import * as tf from "@tensorflow/tfjs-core";
import { ShapeError } from "../errors.js";

/** Rows of `table` [V, D] at `ids` (int32, any shape) → [...ids.shape, D]. Ids must be in [0, V). */
export function embedding(ids: tf.Tensor, table: tf.Tensor): tf.Tensor {
  if (ids.dtype !== "int32") throw new ShapeError(`embedding: ids must be int32, got ${ids.dtype}`);
  if (table.rank !== 2) throw new ShapeError("embedding: table must be [V, D]", ["V", "D"], table.shape);
  return tf.gather(table, ids);
}
