// trainLlava's real-size options on the fixture LLaVA: the frozen base left in its checkpoint, gradient
// checkpointing, and bf16-held frozen weights — the first two train exactly as the resident run does.
import { DEFAULT_TRAIN_MAX_HEAP, heapCacheStats, initBackend } from "@llava-ts/core";
import { type Cases, fixturePath, loadCases } from "@llava-ts/core/testing";
import type { LlavaBatch } from "@llava-ts/datasets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureBatch } from "../../test/fixture-batch.js";
import type { PlainTrainerOptions } from "./llava-rank.js";
import { type TrainLlavaOptions, trainLlava } from "./train-llava.js";

let cases: Cases;
let batch: LlavaBatch;
beforeAll(async () => {
  await initBackend();
  cases = loadCases("hf/llava");
  batch = fixtureBatch(cases);
});
afterAll(() => cases?.close());

const SETUP: PlainTrainerOptions = {
  optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
  maxSteps: 6,
};

const run = (extra: Partial<TrainLlavaOptions>) =>
  trainLlava({
    modelDir: fixturePath("hf/llava"),
    adapterDir: fixturePath("hf/llava-lora-init"),
    strategy: "use_lora",
    data: { batches: [batch] },
    trainer: SETUP,
    returnParams: true,
    ...extra,
  });

function maxDiff(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let d = 0;
  for (const [k, v] of Object.entries(a))
    for (let i = 0; i < v.length; i++) d = Math.max(d, Math.abs(v[i] - b[k][i]));
  return d;
}

describe("trainLlava with the real-size options (use_lora, 6 steps)", () => {
  it("offloaded base + gradient checkpointing: the resident run's losses within 1e-6 and parameters within 1e-5", async () => {
    const ref = await run({ offload: false });
    const got = await run({ offload: true, gradientCheckpointing: true, maxHeap: "512MB" });
    expect(got.losses).toHaveLength(6);
    got.losses.forEach((l, i) => {
      expect(Math.abs(l - ref.losses[i]), `step ${i + 1}`).toBeLessThanOrEqual(1e-6);
    });
    expect(Object.keys(got.params!).sort()).toEqual(Object.keys(ref.params!).sort());
    expect(maxDiff(got.params!, ref.params!)).toBeLessThanOrEqual(1e-5);
  });

  it("bf16: frozen weights held rounded to bfloat16 — the same trainable set, losses close to float32's", async () => {
    const ref = await run({ offload: false });
    const got = await run({ bf16: true });
    expect(Object.keys(got.params!).sort()).toEqual(Object.keys(ref.params!).sort());
    const drift = Math.max(...got.losses.map((l, i) => Math.abs(l - ref.losses[i])));
    expect(drift).toBeGreaterThan(0); // the frozen weights really were rounded
    expect(drift).toBeLessThan(0.02);
    // Without maxHeap, training runs under the training default (or LLAVA_MAX_HEAP).
    if (!process.env.LLAVA_MAX_HEAP) expect(heapCacheStats().maxHeapBytes).toBe(DEFAULT_TRAIN_MAX_HEAP);
  });
});
