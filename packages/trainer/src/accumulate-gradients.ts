// One micro-batch's backward pass: the loss (times the rank's loss weight, divided by the accumulation
// steps as HF Trainer does) under a gradient tape over the trainable variables only, its gradients added
// into the flat buffer — dense ones whole, those of lookups made outside the tape (rowGradients) row by row.
import { valuesOf } from "@llava-ts/core/internal";
import * as tf from "@tensorflow/tfjs-core";
import type { OptimizerParam } from "./adamw.js";
import type { GradientBuffer } from "./gradient-buffer.js";
import type { PreparedStep } from "./train-task.js";
import { TrainingError } from "./training-error.js";

export interface MicroBatchInfo {
  /** Micro-batches per optimizer step. */
  accum: number;
  /** The optimizer step (1-based) and this micro-batch's index in it, for error messages. */
  step: number;
  micro: number;
  /** This rank's loss weight among data-parallel ranks (rankLossWeight); default 1. */
  weight?: number;
}

/**
 * Returns weight · loss / accum of the micro-batch (what HF sums into the logged loss). A non-finite loss
 * throws before any gradient reaches the buffer. `prepared` is disposed either way.
 */
export function accumulateGradients(
  prepared: PreparedStep,
  params: readonly OptimizerParam[],
  buffer: GradientBuffer,
  { accum, step, micro, weight = 1 }: MicroBatchInfo,
): number {
  try {
    const vars = params.map((p) => p.variable);
    const rowGrads = (prepared.rowGradients ?? []).filter((r) => vars.includes(r.variable));
    // The lookups' outputs are differentiated like the variables (they were made before the tape started).
    const xs = [...vars, ...rowGrads.map((r) => r.input)];
    const { value, grads } = tf.engine().gradients(
      () => {
        const l = prepared.loss();
        const weighted = weight === 1 ? l : l.mul(weight);
        return (accum > 1 ? weighted.div(accum) : weighted) as tf.Scalar;
      },
      xs,
      undefined,
      true,
    );
    try {
      const v = value.dataSync()[0];
      if (!Number.isFinite(v)) {
        const where = accum > 1 ? ` (micro-batch ${micro + 1} of ${accum})` : "";
        throw new TrainingError(
          `loss is ${(v * accum) / weight}${where}; training stopped before the update, the last checkpoint is kept`,
          step,
        );
      }
      params.forEach((_, i) => {
        const g = grads[i];
        if (g) buffer.add(i, g);
      });
      rowGrads.forEach((r, k) => {
        const g = grads[vars.length + k];
        if (g) buffer.addRows(vars.indexOf(r.variable), r.rows, valuesOf(g));
      });
      return v;
    } finally {
      tf.dispose([value, ...grads.filter((g): g is tf.Tensor => g != null)]);
    }
  } finally {
    prepared.dispose();
  }
}
