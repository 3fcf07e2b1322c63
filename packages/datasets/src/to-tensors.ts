// A collated batch as tfjs tensors (HF layouts); the caller owns and disposes them.
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaBatch } from "./collate.js";

export interface LlavaBatchTensors {
  inputIds: tf.Tensor2D; // [B, T] int32
  attentionMask: tf.Tensor2D; // [B, T] int32
  labels: tf.Tensor2D; // [B, T] int32
  pixelValues: tf.Tensor4D; // [N, 3, S, S] float32
}

export function toTensors(batch: LlavaBatch): LlavaBatchTensors {
  const shape: [number, number] = [batch.batchSize, batch.seqLength];
  return {
    inputIds: tf.tensor2d(batch.inputIds, shape, "int32"),
    attentionMask: tf.tensor2d(batch.attentionMask, shape, "int32"),
    labels: tf.tensor2d(batch.labels, shape, "int32"),
    pixelValues: tf.tensor4d(batch.pixelValues, batch.pixelShape, "float32"),
  };
}
