// Parity with PEFT 0.13 on the real LLaVA (fixtures/hf/llava + the two PEFT adapters).
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend, SafetensorsFile } from "@llava-ts/core";
import {
  type Cases,
  expectNoLeaks,
  expectTensorsClose,
  fixturePath,
  loadCases,
} from "@llava-ts/core/testing";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyLora } from "./apply-lora.js";
import { loadAdapter } from "./load-adapter.js";
import { mergeAndUnload, mergeLora, unmergeLora } from "./merge-lora.js";
import { saveAdapter } from "./save-adapter.js";

let batch: Cases;
beforeAll(async () => {
  await initBackend();
  batch = loadCases("hf/llava");
});
afterAll(() => batch?.close());

const base = () => LlavaForConditionalGeneration.fromPretrained(fixturePath("hf/llava"));

function run(model: LlavaForConditionalGeneration) {
  const input = {
    inputIds: batch.tensor("input_ids"),
    attentionMask: batch.tensor("attention_mask"),
    labels: batch.tensor("labels"),
    pixelValues: batch.tensor("pixel_values"),
  };
  const out = model.forward(input);
  tf.dispose(Object.values(input));
  return out;
}

function expectForward(model: LlavaForConditionalGeneration, cases: Cases, logitsName = "logits") {
  const { logits, loss } = run(model);
  const l = expectTensorsClose(logits, cases.tensor(logitsName), { atol: 1e-4, label: logitsName });
  const s = expectTensorsClose(loss!, cases.array("loss"), { atol: 1e-5, label: "loss" });
  console.log(`${logitsName}: max |Δ| ${l.maxAbs.toExponential(2)}; loss |Δ| ${s.maxAbs.toExponential(2)}`);
  tf.dispose([logits, loss!]);
}

describe("LLaVA + PEFT adapters (fixtures/hf/llava-lora-*)", () => {
  it("llava-lora-init: logits within 1e-4, loss within 1e-5", async () => {
    const cases = loadCases("hf/llava-lora-init");
    const model = base();
    const s = loadAdapter(model, fixturePath("hf/llava-lora-init"));
    expect(s.parts).toEqual({ language_model: { wrapped: 14, outOfScope: 0 } });
    expectForward(model, cases);
    await expectNoLeaks(() => run(model), "forward with LoRA");
    cases.close();
    model.dispose();
  });

  it("llava-lora-trained: logits, loss, and merged_logits after merging", () => {
    const cases = loadCases("hf/llava-lora-trained");
    const model = base();
    loadAdapter(model, fixturePath("hf/llava-lora-trained"));
    expectForward(model, cases);
    mergeLora(model);
    expectForward(model, cases, "merged_logits");
    unmergeLora(model);
    expectForward(model, cases);
    const plain = mergeAndUnload(model);
    expect([...plain.namedParameters()].map(([n]) => n)).toEqual(
      [...base().namedParameters()].map(([n]) => n),
    );
    expectForward(plain, cases, "merged_logits");
    cases.close();
    model.dispose();
  });

  it("use_lora training: 6 AdamW steps follow PEFT's losses within 1e-4", () => {
    const expected: number[] = JSON.parse(readFileSync(fixturePath("hf/training.json"), "utf8")).losses
      .use_lora;
    const model = base();
    loadAdapter(model, fixturePath("hf/llava-lora-init"), { trainable: true });
    const vars = model.trainableParameters().map(([, p]) => p);
    expect(vars.length).toBe(14 * 2 + 4);
    const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
    const losses: number[] = [];
    for (let step = 0; step < expected.length; step++) {
      const cost = opt.minimize(
        () => {
          const { logits, loss } = run(model);
          logits.dispose();
          return loss!;
        },
        true,
        vars,
      )!;
      losses.push(cost.dataSync()[0]);
      cost.dispose();
    }
    const r = expectTensorsClose(losses, expected, { atol: 1e-4, label: "use_lora losses" });
    console.log(
      `use_lora losses ${losses.map((l) => l.toFixed(6)).join(", ")}; max |Δ| ${r.maxAbs.toExponential(2)}`,
    );
    opt.dispose();
    model.dispose();
  });

  it("applyLora on the real model: default scope skips CLIP, and the saved files match PEFT's names and config", async () => {
    const model = base();
    const s = applyLora(model, { target_modules: ["q_proj", "k_proj", "v_proj"] });
    expect(s.parts).toEqual({
      vision_tower: { wrapped: 0, outOfScope: 9 },
      language_model: { wrapped: 6, outOfScope: 0 },
    });
    model.dispose();

    const m2 = base();
    const config = JSON.parse(readFileSync(fixturePath("hf/llava-lora-init/adapter_config.json"), "utf8"));
    applyLora(m2, config);
    const dir = mkdtempSync(join(tmpdir(), "lora-parity-"));
    const saved = await saveAdapter(m2, dir);
    const peft = SafetensorsFile.open(fixturePath("hf/llava-lora-init/adapter_model.safetensors"));
    expect(saved.keys).toEqual(peft.keys().sort());
    const ours = SafetensorsFile.open(saved.weightsPath);
    for (const k of ours.keys()) expect(ours.shape(k), k).toEqual(peft.shape(k));
    peft.close();
    ours.close();
    expect(readFileSync(saved.configPath, "utf8")).toBe(
      readFileSync(fixturePath("hf/llava-lora-init/adapter_config.json"), "utf8"),
    );
    m2.dispose();
  });

  it("a bare Qwen2ForCausalLM (no language_model child) is wrapped whole", () => {
    const model = base();
    const s = applyLora(model.language_model, { target_modules: ["q_proj", "v_proj"] });
    expect(s.scope).toBe("all");
    expect(s.wrapped).toEqual([
      "model.layers.0.self_attn.q_proj",
      "model.layers.0.self_attn.v_proj",
      "model.layers.1.self_attn.q_proj",
      "model.layers.1.self_attn.v_proj",
    ]);
    model.dispose();
  });
});
