// One micro-batch's backward pass: the loss (divided by the accumulation steps, as HF Trainer does)
// under a gradient tape over the trainable variables only, its gradients added into the flat buffer.
import * as tf from "@tensorflow/tfjs";
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
}

/**
 * Returns loss / accum of the micro-batch (what HF sums into the logged loss). A non-finite loss throws
 * before any gradient reaches the buffer. `prepared` is disposed either way.
 */
export function accumulateGradients(
  prepared: PreparedStep,
  params: readonly OptimizerParam[],
  buffer: GradientBuffer,
  { accum, step, micro }: MicroBatchInfo,
): number {
  try {
    const vars = params.map((p) => p.variable);
    const { value, grads } = tf.variableGrads(() => {
      const l = prepared.loss();
      return (accum > 1 ? l.div(accum) : l) as tf.Scalar;
    }, vars);
    try {
      const v = value.dataSync()[0];
      if (!Number.isFinite(v)) {
        const where = accum > 1 ? ` (micro-batch ${micro + 1} of ${accum})` : "";
        throw new TrainingError(
          `loss is ${v * accum}${where}; training stopped before the update, the last checkpoint is kept`,
          step,
        );
      }
      params.forEach((p, i) => {
        const g = grads[p.variable.name];
        if (g) buffer.add(i, g);
      });
      return v;
    } finally {
      tf.dispose([value, ...Object.values(grads).filter((g): g is tf.Tensor => g != null)]);
    }
  } finally {
    prepared.dispose();
  }
}
