import * as tf from "@tensorflow/tfjs";
import { initBackend } from "@llava-ts/core";
import { type Cases, expectTensorsClose, fixturePath, loadCases } from "@llava-ts/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Qwen2ForCausalLM } from "./causal-lm.js";
import { positionIdsFromMask } from "./inputs.js";

let model: Qwen2ForCausalLM;
let cases: Cases;

beforeAll(async () => {
  await initBackend();
  model = Qwen2ForCausalLM.fromPretrained(fixturePath("hf/qwen2"));
  cases = loadCases("hf/qwen2");
});

afterAll(() => {
  model?.dispose();
  cases?.close();
});

describe("Qwen2ForCausalLM parity with transformers (hf/qwen2)", () => {
  it("logits of both rows (row 1 left-padded, padded positions too) and the loss", () => {
    const [B, T] = cases.shape("input_ids");
    const out = model.forward({
      inputIds: cases.tensor("input_ids"),
      attentionMask: cases.array("attention_mask"),
      labels: cases.array("labels"),
    });
    const expected = cases.tensor("logits");
    const report = expectTensorsClose(out.logits, expected, { atol: 1e-4, label: "logits" });
    const loss = out.loss!.dataSync()[0];
    console.log(`logits max |Δ| ${report.maxAbs}; loss ${loss} vs ${cases.array("loss")[0]}`);
    expect(Math.abs(loss - cases.array("loss")[0])).toBeLessThan(1e-5);
    tf.dispose([out.logits, out.loss!, expected]);
    void B;
    void T;
  });

  it("cumsum positions", () => {
    const [B, T] = cases.shape("input_ids");
    const mask = cases.array("attention_mask");
    const out = model.forward({
      inputIds: cases.tensor("input_ids"),
      attentionMask: mask,
      positionIds: positionIdsFromMask(mask, B, T),
    });
    const expected = cases.tensor("logits");
    expectTensorsClose(out.logits, expected, { atol: 1e-4, label: "logits" });
  });
});
