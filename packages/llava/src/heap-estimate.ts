// How much wasm heap one training micro-batch needs, estimated from its shape before it runs, so a batch
// that cannot fit is an error naming its records and the sizes — not an abort deep in a kernel, or a hang.
// The terms are the ones that dominate the current forward + backward (labelled-rows logits with the fused
// cross-entropy, attention kept for the backward, per-layer activations, gradients); the coefficients were
// measured on two small LLaVAs with core's wasmTensorBytes (peaks within ±11 %), resident and without
// checkpointing; vocabulary-chunked logits and recomputed layers scale the same terms down to what is live
// at once (not calibrated: the heap guard still turns a miss into an OutOfMemoryError). When the forward
// changes, the calibration test in trainer/src/heap-check.faults.test.ts fails until they are updated here.

import { numPatches } from "@llava-ts/clip";
import {
  formatBytes,
  heapCacheStats,
  OutOfMemoryError,
  WASM_HEAP_LIMIT,
  wasmTensorBytes,
} from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaConfig } from "./llava-config.js";

export interface TrainingStepShape {
  /** Rows B and padded length T of the batch. */
  batch: number;
  length: number;
  /** Positions whose next token is labelled (the rows of the logits). */
  labelled: number;
  /** Images in the batch. */
  images: number;
  /** Whether the vision tower trains (its activations are then kept for the backward too). */
  visionTrains: boolean;
  /** Trainable parameters (their gradients). */
  trainable: number;
  /**
   * Vocabulary columns of the logits formed at once: the whole vocabulary (default), or a chunk's when
   * the output matrix is offloaded (chunked cross-entropy never forms [R, V]).
   */
  logitColumns?: number;
  /** Whether the decoder recomputes each layer in the backward (gradient checkpointing). */
  checkpointed?: boolean;
}

export interface HeapEstimate {
  total: number;
  logits: number;
  attention: number;
  activations: number;
  vision: number;
  gradients: number;
}

const F32 = 4;

/** Bytes of wasm heap, beyond the weights already held, that one forward + backward of `s` peaks at. */
export function estimateTrainingStepBytes(config: LlavaConfig, s: TrainingStepShape): HeapEstimate {
  const t = config.text_config;
  const v = config.vision_config;
  const { batch: B, length: T } = s;
  // Logits of the labelled rows, their softmax, and both gradients: ~4 copies of [R, V].
  const logits = 4.2 * s.labelled * Math.min(s.logitColumns ?? t.vocab_size, t.vocab_size) * F32;
  // Scores, mask, probabilities and their gradients for every layer, kept until the backward: ~8 × [B, h, T, T].
  // Checkpointed, one layer's are live at a time (recomputed in the backward), plus each layer's input.
  const kept = s.checkpointed ? 1 : t.num_hidden_layers;
  const attention = 8.2 * kept * t.num_attention_heads * B * T * T * F32;
  const activations =
    18 * kept * B * T * (t.hidden_size + t.intermediate_size) * F32 +
    (s.checkpointed ? t.num_hidden_layers * B * T * t.hidden_size * F32 : 0);
  const tokens = numPatches(v) + 1; // CLIP's sequence: the patches and the class token
  const visionLayer =
    v.num_attention_heads * s.images * tokens * tokens * F32 +
    s.images * tokens * (v.hidden_size + v.intermediate_size) * F32;
  // A trained tower keeps every layer for the backward; a frozen one runs before the tape, a layer at a time.
  const vision = s.visionTrains ? 8.2 * v.num_hidden_layers * visionLayer : 3 * visionLayer;
  const gradients = 0.5 * s.trainable * F32;
  const total = logits + attention + activations + vision + gradients;
  return { total, logits, attention, activations, vision, gradients };
}

/**
 * Throws an OutOfMemoryError naming `records` and the sizes when the step cannot fit in what is left of
 * the wasm heap (4 GB minus the tensors held now). A no-op on other backends.
 */
export function checkTrainingStepFits(
  config: LlavaConfig,
  s: TrainingStepShape,
  records: readonly number[] = [],
): void {
  if (tf.getBackend() !== "wasm") return;
  // Offloaded weights cached in the heap are evicted as the step needs room: they do not count as held.
  const held = Math.max(0, wasmTensorBytes().live - heapCacheStats().residentBytes);
  const free = WASM_HEAP_LIMIT - held;
  const e = estimateTrainingStepBytes(config, s);
  if (e.total <= free) return;
  const listed =
    records.slice(0, 10).join(", ") + (records.length > 10 ? `, … (${records.length} in all)` : "");
  const which = records.length === 1 ? `record ${records[0]}` : `records ${listed}`;
  const n = (x: number) => x.toLocaleString("en-US");
  const parts = (["logits", "attention", "activations", "vision", "gradients"] as const)
    .filter((k) => e[k] >= 0.05 * e.total)
    .map((k) => `${k} ${formatBytes(e[k])}`)
    .join(", ");
  throw new OutOfMemoryError(
    `${records.length ? `${which}: ` : ""}a batch of ${n(s.batch)} × ${n(s.length)} tokens (${n(s.labelled)} labelled) needs about ` +
      `${formatBytes(e.total)} of wasm heap (${parts}), but only ${formatBytes(free)} of its ${formatBytes(WASM_HEAP_LIMIT)} ` +
      `is free beside the ${formatBytes(held)} the model holds: cut the records (--model-max-length) or lower the batch size`,
    e.total,
    held,
  );
}
