import { initBackend, ShapeError } from "@llava-ts/core";
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
import { parseClipVisionConfig } from "./clip-vision-config.js";
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

function expectClose(actual: tf.Tensor, name: string): number {
  const expected = cases.tensor(name);
  try {
    return expectTensorsClose(actual, expected, { atol: 1e-4, label: name }).maxAbs;
  } finally {
    expected.dispose();
  }
}

describe("ClipVisionModel parity with transformers (hf/clip-vision)", () => {
  it("matches last_hidden_state, pooler_output and every hidden state within 1e-4", () => {
    const out = model.forward(pixels, { outputHiddenStates: true });
    const errors: Record<string, number> = {};
    errors.last_hidden_state = expectClose(out.lastHiddenState, "last_hidden_state");
    errors.pooler_output = expectClose(out.poolerOutput, "pooler_output");
    expect(out.hiddenStates).toHaveLength(4);
    for (const [i, h] of out.hiddenStates!.entries())
      errors[`hidden_states.${i}`] = expectClose(h, `hidden_states.${i}`);
    console.log("clip-vision max |Δ|:", errors);
    // lastHiddenState is its own handle: disposing it leaves hidden_states[-1] readable.
    out.lastHiddenState.dispose();
    expectClose(out.hiddenStates![3], "last_hidden_state");
    tf.dispose([out.poolerOutput, ...out.hiddenStates!]);
  });

  it("hidden_states[0] is the encoder input, i.e. AFTER pre_layrnorm (as transformers 4.46 computes it)", () => {
    const vm = model.vision_model;
    const emb = vm.embeddings.forward(pixels); // [B, S, D]
    const normed = vm.pre_layrnorm.forward(emb); // [B, S, D]
    const expected = cases.tensor("hidden_states.0");
    expect(compareTensors(emb, expected).maxAbs).toBeGreaterThan(0.1);
    expect(compareTensors(normed, expected).maxAbs).toBeLessThan(1e-4);
    tf.dispose([emb, normed, expected]);
  });

  it("hiddenState(px, layer) gives hidden_states[layer] without running later layers", () => {
    for (const [layer, name] of [
      [-2, "hidden_states.2"],
      [0, "hidden_states.0"],
      [-1, "hidden_states.3"],
      [1, "hidden_states.1"],
    ] as const) {
      const h = model.hiddenState(pixels, layer);
      expectClose(h, name);
      h.dispose();
    }
    expect(() => model.hiddenState(pixels, 4)).toThrow(/hidden state 4 does not exist: the model has 4/);
    expect(() => model.hiddenState(pixels, -5)).toThrow(/hidden state -5 does not exist/);
  });

  it("rejects pixel values of the wrong size or channel count with a ShapeError naming both shapes", () => {
    for (const shape of [
      [2, 3, 42, 56],
      [2, 1, 56, 56],
      [3, 56, 56],
    ]) {
      const px = tf.zeros(shape);
      expect(() => model.forward(px)).toThrow(ShapeError);
      expect(() => model.forward(px)).toThrow(
        `pixel values [${shape}] do not fit the vision tower, which expects [B, 3, 56, 56]`,
      );
      expect(() => model.hiddenState(px, -2)).toThrow(ShapeError);
      px.dispose();
    }
  });

  it("does not leak tensors in forward or hiddenState", async () => {
    await expectNoLeaks(() => model.forward(pixels, { outputHiddenStates: true }), "forward");
    await expectNoLeaks(() => model.forward(pixels), "forward without hidden states");
    await expectNoLeaks(() => model.hiddenState(pixels, -2), "hiddenState");
  });
});

describe("ClipVisionModel from a config (random init)", () => {
  const config = parseClipVisionConfig({
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    image_size: 28,
    patch_size: 7,
  });

  it("is seeded: the same seed gives the same weights, another seed others", () => {
    const a = new ClipVisionModel(config, { seed: 1 });
    const b = new ClipVisionModel(config, { seed: 1 });
    const c = new ClipVisionModel(config, { seed: 2 });
    const key = "vision_model.encoder.layers.1.self_attn.q_proj.weight";
    const wa = a.stateDict().get(key)!;
    expect(compareTensors(wa, b.stateDict().get(key)!).maxAbs).toBe(0);
    expect(compareTensors(wa, c.stateDict().get(key)!).maxAbs).toBeGreaterThan(0);
    // HF's _init_weights: q_proj ~ N(0, D^-½ (2L)^-½), patch conv ~ N(0, 0.02), layer norms 1 / 0.
    const std = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(t.square().mean().dataSync()[0]));
    expect(std(wa)).toBeCloseTo(32 ** -0.5 * 4 ** -0.5, 2);
    expect(std(a.stateDict().get("vision_model.embeddings.patch_embedding.weight")!)).toBeCloseTo(0.02, 2);
    expect(
      a
        .stateDict()
        .get("vision_model.pre_layrnorm.weight")!
        .dataSync()
        .every((v) => v === 1),
    ).toBe(true);
    expect(
      a
        .stateDict()
        .get("vision_model.encoder.layers.0.mlp.fc1.bias")!
        .dataSync()
        .every((v) => v === 0),
    ).toBe(true);
    for (const m of [a, b, c]) m.dispose();
  });

  it("trains on this backend: every parameter gets a finite, non-zero gradient", () => {
    const m = new ClipVisionModel(config, { seed: 4 });
    const px = tf.randomNormal([1, 3, 28, 28], 0, 1, "float32", 6);
    const params = m.trainableParameters();
    const { value, grads } = tf.variableGrads(() => {
      const out = m.forward(px);
      return out.lastHiddenState.square().mean().add(out.poolerOutput.sum()) as tf.Scalar;
    });
    for (const [name, p] of params) {
      const g = grads[p.name];
      expect(g, name).toBeDefined();
      const norm = tf.tidy(() => g.abs().max().dataSync()[0]);
      expect(Number.isFinite(norm) && norm > 0, `${name}: max |grad| ${norm}`).toBe(true);
    }
    tf.dispose([value, px, ...Object.values(grads)]);
    m.dispose();
  });

  it("has HF's parameter names and runs forward with HF's output shapes", () => {
    const m = new ClipVisionModel(config, { seed: 3 });
    const names = [...m.stateDict().keys()];
    expect(names).toContain("vision_model.embeddings.patch_embedding.weight");
    expect(names).toContain("vision_model.encoder.layers.1.mlp.fc2.weight");
    expect(names).toContain("vision_model.post_layernorm.bias");
    expect(names).toHaveLength(3 + 2 + 2 * 16 + 2);
    const px = tf.randomNormal([2, 3, 28, 28], 0, 1, "float32", 5);
    const out = m.forward(px, { outputHiddenStates: true });
    expect(out.lastHiddenState.shape).toEqual([2, 17, 32]);
    expect(out.poolerOutput.shape).toEqual([2, 32]);
    expect(out.hiddenStates!.map((h) => h.shape)).toEqual(Array(3).fill([2, 17, 32]));
    tf.dispose([px, out.lastHiddenState, out.poolerOutput, ...out.hiddenStates!]);
    m.dispose();
  });
});
