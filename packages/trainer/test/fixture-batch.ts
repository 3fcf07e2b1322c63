// The fixtures/hf/llava training batch as the trainer's Batch (the batch of training.json's six steps).
import type { Cases } from "@llava-ts/core/testing";
import type { Batch } from "../src/train-task.js";

export function fixtureBatch(cases: Cases): Batch {
  const [B, T] = cases.shape("input_ids");
  return {
    batchSize: B,
    seqLength: T,
    inputIds: cases.array("input_ids") as Int32Array,
    attentionMask: cases.array("attention_mask") as Int32Array,
    labels: cases.array("labels") as Int32Array,
    pixelValues: cases.array("pixel_values") as Float32Array,
    pixelShape: cases.shape("pixel_values") as [number, number, number, number],
  };
}
