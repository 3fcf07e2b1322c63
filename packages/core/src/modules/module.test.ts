import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend/init-backend.js";
import { WeightLoadError } from "../errors.js";
import { expectNoLeaks } from "../testing/index.js";
import { Embedding, LayerNorm, Linear, ModuleList, RMSNorm } from "./layers.js";
import { Module, matchName } from "./module.js";
import { normalInit, Rng } from "./random.js";

class Block extends Module {
  q_proj: Linear;
  norm: RMSNorm;
  constructor() {
    super();
    this.q_proj = this.module("q_proj", new Linear(3, 2, { init: normalInit(0.02, new Rng(1)) }));
    this.norm = this.module("norm", new RMSNorm(2));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.norm.forward(this.q_proj.forward(x)));
  }
}

class Tiny extends Module {
  embed_tokens: Embedding;
  layers: ModuleList<Block>;
  final_layernorm: LayerNorm;
  constructor() {
    super();
    this.embed_tokens = this.module("embed_tokens", new Embedding(5, 3));
    this.layers = this.module("layers", new ModuleList([new Block(), new Block()]));
    this.final_layernorm = this.module("final_layernorm", new LayerNorm(2));
  }
}

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});

describe("Module", () => {
  it("names parameters by their HF keys, depth first", () => {
    const m = new Tiny();
    expect([...m.stateDict().keys()]).toEqual([
      "embed_tokens.weight",
      "layers.0.q_proj.weight",
      "layers.0.q_proj.bias",
      "layers.0.norm.weight",
      "layers.1.q_proj.weight",
      "layers.1.q_proj.bias",
      "layers.1.norm.weight",
      "final_layernorm.weight",
      "final_layernorm.bias",
    ]);
    expect(m.numParameters()).toBe(15 + 2 * (6 + 2 + 2) + 4);
    m.dispose();
  });

  it("loads a state dict and round-trips it", () => {
    const a = new Tiny();
    const b = new Tiny();
    const dict = new Map([...a.stateDict()].map(([k, v]) => [k, v.add(1)]));
    b.loadStateDict(dict);
    for (const [k, v] of b.stateDict())
      expect(Array.from(v.dataSync())).toEqual(Array.from(dict.get(k)!.dataSync()));
    tf.dispose([...dict.values()]);
    a.dispose();
    b.dispose();
  });

  it("strict loading lists missing, unexpected and wrong-shaped keys, and assigns nothing", () => {
    const m = new Tiny();
    const before = m.stateDict().get("layers.0.q_proj.bias")!.dataSync().slice();
    const dict = new Map([...m.stateDict()].map(([k, v]) => [k, tf.onesLike(v)]));
    dict.delete("layers.1.norm.weight");
    dict.set("layers.0.q_proj.weight", tf.zeros([3, 2]));
    dict.set("lm_head.weight", tf.zeros([1]));
    let err: WeightLoadError | undefined;
    try {
      m.loadStateDict(dict, { source: "model.safetensors" });
    } catch (e) {
      err = e as WeightLoadError;
    }
    expect(err).toBeInstanceOf(WeightLoadError);
    expect(err!.missing).toEqual(["layers.1.norm.weight"]);
    expect(err!.unexpected).toEqual(["lm_head.weight"]);
    expect(err!.mismatched).toEqual([{ key: "layers.0.q_proj.weight", expected: [2, 3], found: [3, 2] }]);
    expect(err!.message).toMatch(
      /model\.safetensors: .*missing 1 key.*unexpected 1 key.*expected \[2,3\], found \[3,2\]/,
    );
    expect(Array.from(m.stateDict().get("layers.0.q_proj.bias")!.dataSync())).toEqual(Array.from(before));
    // Non-strict: missing and unexpected are reported, wrong shapes still fail.
    dict.set("layers.0.q_proj.weight", tf.ones([2, 3]));
    const r = m.loadStateDict(dict, { strict: false });
    expect(r).toEqual({ missing: ["layers.1.norm.weight"], unexpected: ["lm_head.weight"] });
    expect(m.stateDict().get("layers.0.q_proj.bias")!.dataSync()[0]).toBe(1);
    tf.dispose([...dict.values()]);
    m.dispose();
  });

  it("freezes and unfreezes by pattern", () => {
    const m = new Tiny();
    m.freeze();
    expect(m.trainableParameters()).toEqual([]);
    m.unfreeze("layers.1");
    expect(m.trainableParameters().map(([k]) => k)).toEqual([
      "layers.1.q_proj.weight",
      "layers.1.q_proj.bias",
      "layers.1.norm.weight",
    ]);
    m.freeze(/bias$/);
    expect(m.numParameters({ trainableOnly: true })).toBe(6 + 2);
    m.unfreeze("layers.*.norm.weight");
    expect(m.trainableParameters().map(([k]) => k)).toContain("layers.0.norm.weight");
    expect(matchName("layers.1", "layers.10.x")).toBe(false);
    m.dispose();
  });

  it("replaces a submodule and the parent's property follows", () => {
    const m = new Tiny();
    const replacement = new Linear(3, 2, { bias: false });
    m.setSubmodule("layers.0.q_proj", replacement);
    expect(m.layers.at(0).q_proj).toBe(replacement);
    expect(m.stateDict().has("layers.0.q_proj.bias")).toBe(false);
    expect(() => m.setSubmodule("layers.0.nope", replacement)).toThrow(/no submodule "layers.0.nope"/);
    m.dispose();
  });

  it("disposes every variable, and forward passes do not leak", async () => {
    const before = tf.memory().numTensors;
    const m = new Tiny();
    const x = tf.ones([2, 3]);
    await expectNoLeaks(() => m.layers.at(0).forward(x), "Block.forward");
    x.dispose();
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("initialises deterministically from a seed", () => {
    const a = normalInit(1, new Rng(42))([1000]);
    const b = normalInit(1, new Rng(42))([1000]);
    expect(a).toEqual(b);
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(std - 1)).toBeLessThan(0.1);
  });
});
