// LoRA on an offloaded base (the frozen LLaVA left in its checkpoint): the same logits as the resident base
// with PEFT's adapters, a merge that reads the adapter when the weight is used, and use_lora gradients
// equal to the resident model's — with and without gradient checkpointing.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend, OffloadedParameter, SafetensorsCheckpoint } from "@llava-ts/core";
import {
  type Cases,
  compareTensors,
  expectTensorsClose,
  fixturePath,
  loadCases,
} from "@llava-ts/core/testing";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAdapter } from "./load-adapter.js";
import { mergeAndUnload } from "./merge-lora.js";

let batch: Cases;
const tmp = mkdtempSync(join(tmpdir(), "llava-lora-offload-"));
beforeAll(async () => {
  await initBackend({ backend: "wasm" });
  batch = loadCases("hf/llava");
});
afterAll(() => {
  batch?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const load = (offload: boolean) =>
  LlavaForConditionalGeneration.fromPretrained(fixturePath("hf/llava"), { offload });

function inputs() {
  return {
    inputIds: batch.array("input_ids") as Int32Array,
    attentionMask: batch.array("attention_mask") as Int32Array,
    labels: batch.array("labels") as Int32Array,
    pixelValues: batch.tensor("pixel_values"),
  };
}

function forward(model: LlavaForConditionalGeneration) {
  const [B, T] = batch.shape("input_ids");
  const x = inputs();
  const out = model.forward({ ...x, inputIds: tf.tensor2d(x.inputIds, [B, T], "int32") });
  x.pixelValues.dispose();
  return out;
}

describe("LoRA on an offloaded LLaVA", () => {
  it("PEFT's trained adapter: the resident model's logits and loss; merged, the fixture's merged logits", async () => {
    const cases = loadCases("hf/llava-lora-trained");
    const resident = load(false);
    const offloaded = load(true);
    loadAdapter(resident, fixturePath("hf/llava-lora-trained"));
    loadAdapter(offloaded, fixturePath("hf/llava-lora-trained"));
    const a = forward(resident);
    const b = forward(offloaded);
    expect(compareTensors(b.logits, a.logits).maxAbs).toBe(0);
    expect(b.loss!.dataSync()[0]).toBe(a.loss!.dataSync()[0]);

    mergeAndUnload(offloaded);
    const q = offloaded.language_model.model.layers.at(0).self_attn.q_proj;
    expect(q.parameter("weight")).toBeInstanceOf(OffloadedParameter); // merged without leaving the checkpoint
    const m = forward(offloaded);
    expectTensorsClose(m.logits, cases.tensor("merged_logits"), { atol: 1e-4, label: "merged_logits" });
    // Saved, the merged weights are W + B·A·scaling; they equal the resident merge within float32 rounding.
    mergeAndUnload(resident);
    await offloaded.savePretrained(join(tmp, "merged"));
    const saved = SafetensorsCheckpoint.open(join(tmp, "merged"));
    const key = "language_model.model.layers.0.self_attn.q_proj.weight";
    const want = resident.language_model.model.layers.at(0).self_attn.q_proj.weight;
    expectTensorsClose(tf.tensor(saved.read(key).data, saved.shape(key)), want, { atol: 1e-6, label: key });
    saved.close();
    tf.dispose([a.logits, a.loss!, b.logits, b.loss!, m.logits, m.loss!]);
    cases.close();
    resident.dispose();
    offloaded.dispose();
  });

  it("use_lora: the adapter's and the projector's gradients equal the resident model's (checkpointing on and off)", () => {
    const grads = (model: LlavaForConditionalGeneration, checkpointing: boolean) => {
      model.language_model.model.gradientCheckpointing = checkpointing;
      const named = model.trainableParameters();
      const x = inputs();
      const r = tf.engine().gradients(
        () => model.forward({ ...x, logitsMode: "none" }).loss,
        named.map(([, v]) => v),
      );
      x.pixelValues.dispose();
      return { names: named.map(([n]) => n), ...r };
    };
    const resident = load(false);
    loadAdapter(resident, fixturePath("hf/llava-lora-init"), { trainable: true });
    const want = grads(resident, false);
    expect(want.names.length).toBe(28 + 4); // 14 LoRA layers × (A, B) + the projector's 2 weights and biases
    for (const checkpointing of [false, true]) {
      const offloaded = load(true);
      loadAdapter(offloaded, fixturePath("hf/llava-lora-init"), { trainable: true });
      // Only the trainable parameters entered the heap for good: the base stays offloaded.
      expect(offloaded.trainableParameters().length).toBe(want.names.length);
      expect(offloaded.offloadedParameters().length).toBeGreaterThan(0);
      const got = grads(offloaded, checkpointing);
      expect(got.names).toEqual(want.names);
      expect(Math.abs(got.value.dataSync()[0] - want.value.dataSync()[0])).toBeLessThanOrEqual(1e-6);
      got.grads.forEach((g, i) => {
        expect(
          compareTensors(g, want.grads[i]).maxAbs,
          `${got.names[i]} (checkpointing ${checkpointing})`,
        ).toBeLessThanOrEqual(1e-6);
      });
      tf.dispose([got.value, ...got.grads]);
      offloaded.dispose();
    }
    tf.dispose([want.value, ...want.grads]);
    resident.dispose();
  });
});
