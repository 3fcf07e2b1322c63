import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend/init-backend.js";
import { WeightLoadError } from "../errors.js";
import { Linear, ModuleList } from "../modules/layers.js";
import { Module } from "../modules/module.js";
import { normalInit, Rng } from "../modules/random.js";
import { loadSafetensorsWeights, saveSafetensorsWeights, stripPrefix } from "./module-weights.js";

class Stack extends Module {
  layers: ModuleList<Linear>;
  constructor(seed: number) {
    super();
    const rng = new Rng(seed);
    this.layers = this.module(
      "layers",
      new ModuleList([0, 1, 2].map(() => new Linear(16, 8, { init: normalInit(1, rng) }))),
    );
  }
}

const dir = mkdtempSync(join(tmpdir(), "llava-weights-"));

beforeAll(async () => {
  await initBackend({ backend: "wasm" });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("module weights ↔ safetensors", () => {
  it("saves sharded with an index and loads back bit-exactly", async () => {
    const a = new Stack(1);
    const out = join(dir, "sharded");
    // Each weight is 512 bytes; 700 bytes per shard forces several shards.
    const written = await saveSafetensorsWeights(a, out, { maxShardSize: 700 });
    expect(written.index).toBeDefined();
    const index = JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata.total_size).toBe(3 * (16 * 8 + 8) * 4);
    expect(Object.keys(index.weight_map).sort()).toEqual([...a.stateDict().keys()].sort());
    const b = new Stack(2);
    loadSafetensorsWeights(b, out);
    for (const [k, v] of a.stateDict()) expect(b.stateDict().get(k)!.dataSync()).toEqual(v.dataSync());
    a.dispose();
    b.dispose();
  });

  it("renames keys on save and load, and reports missing tensors by name", async () => {
    const a = new Stack(3);
    const out = join(dir, "prefixed");
    await saveSafetensorsWeights(a, out, { rename: (k) => `model.${k}`, include: "layers.0" });
    expect(existsSync(join(out, "model.safetensors"))).toBe(true);
    const b = new Stack(4);
    expect(() => loadSafetensorsWeights(b, out, { rename: stripPrefix("model.") })).toThrow(WeightLoadError);
    expect(() => loadSafetensorsWeights(b, out, { rename: stripPrefix("model.") })).toThrow(
      /missing 4 key\(s\): layers\.1\.weight/,
    );
    const r = loadSafetensorsWeights(b, out, { rename: stripPrefix("model."), strict: false });
    expect(r.missing).toHaveLength(4);
    expect(b.layers.at(0).weight.dataSync()).toEqual(a.layers.at(0).weight.dataSync());
    a.dispose();
    b.dispose();
  });

  it("does not leak tensors while loading", async () => {
    const a = new Stack(5);
    const out = join(dir, "leak");
    await saveSafetensorsWeights(a, out);
    loadSafetensorsWeights(a, out);
    const before = tf.memory().numTensors;
    loadSafetensorsWeights(a, out);
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
  });
});
