import { initBackend } from "@llava-ts/core";
import {
  type Cases,
  expectNoLeaks,
  expectTensorsClose,
  fixturePath,
  loadCases,
} from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClipVisionModel } from "./clip-vision-model.js";

const DIR = fixturePath("hf/clip-vision");
let cases: Cases;
let model: ClipVisionModel;
let pixels: tf.Tensor;

beforeAll(async () => {
  await initBackend();
  cases = loadCases("hf/clip-vision");
  model = ClipVisionModel.fromPretrained(DIR);
  pixels = cases.tensor("pixel_values");
});

afterAll(() => {
  pixels.dispose();
  model.dispose();
  cases.close();
});

describe("ClipVisionModel parity with transformers (hf/clip-vision)", () => {
  it("matches last_hidden_state, pooler_output and every hidden state within 1e-4", () => {
    const out = model.forward(pixels, { outputHiddenStates: true });
    const errors: Record<string, number> = {};
    const check = (actual: tf.Tensor, name: string) => {
      const expected = cases.tensor(name);
      errors[name] = expectTensorsClose(actual, expected, { atol: 1e-4, label: name }).maxAbs;
      expected.dispose();
    };
    check(out.lastHiddenState, "last_hidden_state");
    check(out.poolerOutput, "pooler_output");
    expect(out.hiddenStates).toHaveLength(4);
    out.hiddenStates!.forEach((h, i) => check(h, `hidden_states.${i}`));
    console.log("clip-vision max |Δ|:", errors);
    tf.dispose(out as unknown as tf.TensorContainer);
  });
});
