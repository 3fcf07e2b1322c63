// The fixtures/hf/llava training batch as a collated LlavaBatch (the batch of training.json's six steps).
import type { Cases } from "@llava-ts/core/testing";
import type { LlavaBatch } from "@llava-ts/datasets";

export function fixtureBatch(cases: Cases): LlavaBatch {
  const [B, T] = cases.shape("input_ids");
  return {
    indices: Array.from({ length: B }, (_, i) => i),
    skipped: [],
    truncated: [],
    batchSize: B,
    seqLength: T,
    inputIds: cases.array("input_ids") as Int32Array,
    attentionMask: cases.array("attention_mask") as Int32Array,
    labels: cases.array("labels") as Int32Array,
    pixelValues: cases.array("pixel_values") as Float32Array,
    pixelShape: cases.shape("pixel_values") as LlavaBatch["pixelShape"],
  };
}
