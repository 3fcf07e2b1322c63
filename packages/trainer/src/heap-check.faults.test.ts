// Fault suite (issue 19, class 1): a micro-batch's wasm heap is estimated before it runs. The estimate is
// checked against the peak a real forward + backward reaches (core's wasmTensorBytes), so it fails here when
// the model's memory use changes; a batch that cannot fit is an OutOfMemoryError naming its records, thrown
// before any tensor is made.
import { initBackend, OutOfMemoryError, wasmTensorBytes } from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import type { LlavaBatch as Batch } from "@llava-ts/datasets";
import { estimateTrainingStepBytes, LlavaForConditionalGeneration } from "@llava-ts/llava";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accumulateGradients } from "./accumulate-gradients.js";
import type { OptimizerParam } from "./adamw.js";
import { applyStrategy, type Strategy } from "./apply-strategy.js";
import { GradientBuffer } from "./gradient-buffer.js";
import { llavaTask } from "./llava-task.js";

let model: LlavaForConditionalGeneration;
beforeAll(async () => {
  await initBackend({ backend: "wasm" });
  model = LlavaForConditionalGeneration.fromPretrained(fixturePath("hf/llava"));
});
afterAll(() => model?.dispose());

/** B rows of T tokens (the image's tokens first), the last N of each labelled. */
function batch(B: number, T: number, N: number, indices?: number[]): Batch {
  const c = model.config;
  const S = c.vision_config.image_size;
  const img = c.image_seq_length;
  const inputIds = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(-100);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      inputIds[b * T + t] = t < img ? c.image_token_index : (7 * t + b) % 500;
      if (t >= T - N) labels[b * T + t] = inputIds[b * T + t];
    }
  return {
    batchSize: B,
    seqLength: T,
    inputIds,
    attentionMask: new Int32Array(B * T).fill(1),
    labels,
    pixelValues: new Float32Array(B * 3 * S * S).fill(0.1),
    pixelShape: [B, 3, S, S],
    indices: indices ?? [],
    skipped: [],
    truncated: [],
  };
}

function trainable(): OptimizerParam[] {
  return model.trainableParameters().map(([name, variable]) => ({ name, variable, decay: true }));
}

describe("the heap estimate of a training micro-batch", () => {
  it.each([
    ["freeze_vision", 1, 512, 32],
    ["freeze_vision", 2, 256, 128],
    ["none", 1, 384, 16],
  ] as const)("%s, %i × %i tokens (%i labelled): within 0.75–1.35 × the measured peak", (strategy, B, T, N) => {
    applyStrategy(model, strategy as Strategy);
    const params = trainable();
    const buffer = new GradientBuffer(params.map((p) => p.variable.size));
    const held = wasmTensorBytes({ reset: true }).live;
    accumulateGradients(llavaTask(model).prepare(batch(B, T, N)), params, buffer, {
      accum: 1,
      step: 1,
      micro: 0,
    });
    const measured = wasmTensorBytes().peak - held;
    const estimate = estimateTrainingStepBytes(model.config, {
      batch: B,
      length: T,
      labelled: B * N,
      images: B,
      visionTrains: strategy === "none",
      trainable: params.reduce((a, p) => a + p.variable.size, 0),
    }).total;
    expect(estimate / measured).toBeGreaterThan(0.75);
    expect(estimate / measured).toBeLessThan(1.35);
  });

  it("a batch that cannot fit is refused before it runs, naming its records and the sizes", () => {
    applyStrategy(model, "freeze_vision");
    const before = tf.memory().numTensors;
    let err: unknown;
    try {
      llavaTask(model).prepare(batch(2, 40_000, 100, [17, 4]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as Error).message).toMatch(
      /^records 17, 4: a batch of 2 × 40,000 tokens \(200 labelled\) needs about [\d.]+ GiB of wasm heap \(attention [\d.]+ GiB\), but only [\d.]+ GiB of its 4\.00 GiB is free/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
