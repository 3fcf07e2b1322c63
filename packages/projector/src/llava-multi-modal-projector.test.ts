import { ClipVisionModel } from "@llava-ts/clip";
import {
  ConfigError,
  initBackend,
  loadSafetensorsWeights,
  readJsonFile,
  stripPrefix,
  WeightLoadError,
} from "@llava-ts/core";
import {
  type Cases,
  compareTensors,
  expectNoLeaks,
  expectTensorsClose,
  fixturePath,
  loadCases,
} from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlavaMultiModalProjector } from "./llava-multi-modal-projector.js";
import { selectImageFeatures } from "./select-image-features.js";

const DIR = fixturePath("hf/llava");
let cases: Cases;

beforeAll(async () => {
  await initBackend();
  cases = loadCases("hf/llava");
});

afterAll(() => cases.close());

function loadProjector(): LlavaMultiModalProjector {
  const projector = LlavaMultiModalProjector.fromConfig(readJsonFile(`${DIR}/config.json`));
  // The LLaVA checkpoint holds everything; keep multi_modal_projector.* only, without its prefix.
  loadSafetensorsWeights(projector, DIR, { rename: stripPrefix("multi_modal_projector.") });
  return projector;
}

describe("LlavaMultiModalProjector parity with transformers (hf/llava)", () => {
  it("projector(vision layer -2 without CLS) gives image_features within 1e-4", () => {
    const config = readJsonFile(`${DIR}/config.json`);
    expect(config.vision_feature_layer).toBe(-2);
    expect(config.vision_feature_select_strategy).toBe("default");
    const tower = ClipVisionModel.fromPretrained(DIR); // vision_tower.vision_model.*
    const projector = loadProjector();
    const pixels = cases.tensor("pixel_values"); // [2, 3, 56, 56]
    const hidden = tower.hiddenState(pixels, -2); // [2, 17, 64]
    const selected = selectImageFeatures(hidden, "default"); // [2, 16, 64]
    const features = projector.forward(selected); // [2, 16, 64]
    const expected = cases.tensor("image_features");
    const { maxAbs } = expectTensorsClose(features, expected, { atol: 1e-4, label: "image_features" });
    console.log("llava image_features max |Δ|:", maxAbs);
    // The features are only ~0.01 in size, so 1e-4 alone would let e.g. tanh-GELU pass: hold a tighter bar.
    expect(maxAbs).toBeLessThan(1e-6);
    tf.dispose([pixels, hidden, selected, features, expected]);
    tower.dispose();
    projector.dispose();
  });
});

describe("LlavaMultiModalProjector", () => {
  it("reads its sizes and activation from a LLaVA config and uses HF's parameter names", () => {
    const p = LlavaMultiModalProjector.fromConfig({
      model_type: "llava",
      vision_config: { hidden_size: 96 },
      text_config: { hidden_size: 128 },
      projector_hidden_act: "gelu",
    });
    expect([p.visionHiddenSize, p.textHiddenSize, p.hiddenAct]).toEqual([96, 128, "gelu"]);
    const shapes = Object.fromEntries([...p.stateDict()].map(([k, v]) => [k, v.shape]));
    expect(shapes).toEqual({
      "linear_1.weight": [128, 96],
      "linear_1.bias": [128],
      "linear_2.weight": [128, 128],
      "linear_2.bias": [128],
    });
    p.dispose();
  });

  it("is seeded, with N(0, 0.02) weights and zero biases", () => {
    const a = new LlavaMultiModalProjector(32, 48, { seed: 7 });
    const b = new LlavaMultiModalProjector(32, 48, { seed: 7 });
    const c = new LlavaMultiModalProjector(32, 48, { seed: 8 });
    const w = (m: LlavaMultiModalProjector) => m.stateDict().get("linear_1.weight")!;
    expect(compareTensors(w(a), w(b)).maxAbs).toBe(0);
    expect(compareTensors(w(a), w(c)).maxAbs).toBeGreaterThan(0);
    expect(Math.sqrt(tf.tidy(() => w(a).square().mean().dataSync()[0]))).toBeCloseTo(0.02, 2);
    expect(
      a
        .stateDict()
        .get("linear_2.bias")!
        .dataSync()
        .every((v) => v === 0),
    ).toBe(true);
    for (const m of [a, b, c]) m.dispose();
  });

  it("applies linear_1 → act → linear_2", () => {
    const p = new LlavaMultiModalProjector(3, 2, { hiddenAct: "relu" });
    p.loadStateDict({
      "linear_1.weight": tf.tensor2d([
        [1, 0, 0],
        [0, -1, 0],
      ]),
      "linear_1.bias": tf.tensor1d([0, 0.5]),
      "linear_2.weight": tf.tensor2d([
        [1, 1],
        [2, 0],
      ]),
      "linear_2.bias": tf.tensor1d([0, 1]),
    });
    const x = tf.tensor2d([
      [1, 2, 3],
      [-1, -2, 0],
    ]);
    // row 0: linear_1 → [1, -1.5] → relu [1, 0] → [1, 3]; row 1: [-1, 2.5] → [0, 2.5] → [2.5, 1]
    expect(Array.from(p.forward(x).dataSync())).toEqual([1, 3, 2.5, 1]);
    x.dispose();
    p.dispose();
  });

  it("rejects an unknown activation with a ConfigError naming the key", () => {
    expect(() => new LlavaMultiModalProjector(4, 4, { hiddenAct: "gelu_fast_nope" })).toThrow(ConfigError);
    expect(() => LlavaMultiModalProjector.fromConfig({ projector_hidden_act: "nope" })).toThrow(
      /unknown activation "nope"/,
    );
  });

  it("raises a WeightLoadError when the checkpoint's shapes do not fit", () => {
    const p = new LlavaMultiModalProjector(64, 32);
    expect(() => loadSafetensorsWeights(p, DIR, { rename: stripPrefix("multi_modal_projector.") })).toThrow(
      WeightLoadError,
    );
    expect(() => loadSafetensorsWeights(p, DIR, { rename: stripPrefix("multi_modal_projector.") })).toThrow(
      /linear_1\.weight \(expected \[32,64\], found \[64,64\]\)/,
    );
    p.dispose();
  });

  it("does not leak", async () => {
    const p = loadProjector();
    const x = tf.randomNormal([2, 16, 64]);
    await expectNoLeaks(() => p.forward(x));
    x.dispose();
    p.dispose();
  });
});
