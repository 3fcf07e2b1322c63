// What the trainer needs from a model: a loss per micro-batch, with the work that needs no gradient
// done before the gradient tape starts. A LLaVA batch is the datasets package's LlavaBatch (typed arrays).
import type * as tf from "@tensorflow/tfjs-core";

/**
 * Rows of a variable looked up outside the tape (`input` = variable[rows], [n, ...row]): the trainer takes
 * the gradient of `input` and adds its rows into the variable's gradient. For an embedding that is also
 * the tied lm_head this replaces a dense [V, E] lookup gradient, and the [V, E] sum of the two, with n rows.
 */
export interface RowGradient {
  input: tf.Tensor;
  variable: tf.Variable;
  /** The looked-up row of each of input's leading positions. */
  rows: Int32Array;
}

/** One micro-batch, prepared outside the tape. */
export interface PreparedStep {
  /** Called inside the gradient scope: the mean loss of the micro-batch (scalar). */
  loss(): tf.Scalar;
  /** Lookups done in prepare() whose gradients go into their variables' rows (see RowGradient). */
  rowGradients?: RowGradient[];
  /** Frees what prepare() made. */
  dispose(): void;
}

export interface BatchCounts {
  samples: number;
  /** Non-padding tokens. */
  tokens: number;
  images: number;
  /**
   * Positions the micro-batch's mean loss averages over (a causal LM: labelled next tokens). ZeRO-2
   * weights each rank's loss by its share of these, so N ranks compute what one rank does.
   */
  lossTokens: number;
}

export interface TrainTask<B> {
  prepare(batch: B): PreparedStep;
  count(batch: B): BatchCounts;
}
