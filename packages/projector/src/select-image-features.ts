// LLaVA's vision_feature_select_strategy applied to the chosen vision hidden state.
// Shape legend: B images, S = 1 + patches, D vision hidden size.
import { ConfigError, ShapeError } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";

export type VisionFeatureSelectStrategy = "default" | "full";

/** "default" drops the class token (position 0); "full" keeps every position. */
export function selectImageFeatures(
  hidden: tf.Tensor,
  strategy: VisionFeatureSelectStrategy | string,
): tf.Tensor {
  if (hidden.rank !== 3)
    throw new ShapeError(
      `selectImageFeatures: expected [B, S, D], found [${hidden.shape}]`,
      ["B", "S", "D"],
      hidden.shape,
    );
  if (strategy === "full") return hidden.clone(); // [B, S, D]
  if (strategy === "default") return tf.slice(hidden, [0, 1, 0], [-1, -1, -1]); // [B, S - 1, D]
  throw new ConfigError(
    `vision_feature_select_strategy: expected "default" or "full", found ${JSON.stringify(strategy)}`,
    "vision_feature_select_strategy",
  );
}
