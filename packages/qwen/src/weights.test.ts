import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend, SafetensorsCheckpoint, saveSafetensors, WeightLoadError } from "@llava-ts/core";
import { compareTensors, fixturePath } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Qwen2ForCausalLM } from "./causal-lm.js";
import { parseQwen2Config } from "./config.js";

let dir: string;

beforeAll(async () => {
  await initBackend();
  dir = mkdtempSync(join(tmpdir(), "qwen-weights-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A copy of hf/qwen2 whose tensors are edited by `edit` (a record of the original tensors). */
async function brokenCopy(name: string, edit: (t: Record<string, tf.Tensor>) => void): Promise<string> {
  const out = join(dir, name);
  const ckpt = SafetensorsCheckpoint.open(fixturePath("hf/qwen2"));
  const tensors = Object.fromEntries(ckpt.keys().map((k) => [k, ckpt.tensor(k)]));
  ckpt.close();
  edit(tensors);
  mkdirSync(out, { recursive: true });
  copyFileSync(fixturePath("hf/qwen2/config.json"), join(out, "config.json"));
  await saveSafetensors(join(out, "model.safetensors"), tensors, { format: "pt" });
  tf.dispose(Object.values(tensors));
  return out;
}

describe("checkpoints", () => {
  it("rejects a checkpoint missing a tensor, naming it", async () => {
    const path = await brokenCopy("missing", (t) => {
      t["model.layers.1.mlp.up_proj.weight"].dispose();
      delete t["model.layers.1.mlp.up_proj.weight"];
    });
    expect(() => Qwen2ForCausalLM.fromPretrained(path)).toThrow(WeightLoadError);
    expect(() => Qwen2ForCausalLM.fromPretrained(path)).toThrow(
      /missing 1 key\(s\): model.layers.1.mlp.up_proj.weight/,
    );
  });

  it("rejects a tensor of the wrong shape, giving both shapes", async () => {
    const path = await brokenCopy("shape", (t) => {
      t["model.layers.0.self_attn.k_proj.bias"].dispose();
      t["model.layers.0.self_attn.k_proj.bias"] = tf.zeros([31]);
    });
    let error: unknown;
    try {
      Qwen2ForCausalLM.fromPretrained(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WeightLoadError);
    expect((error as WeightLoadError).mismatched).toEqual([
      { key: "model.layers.0.self_attn.k_proj.bias", expected: [32], found: [31] },
    ]);
  });

  it("rejects an unexpected tensor but ignores a tied lm_head written anyway", async () => {
    const extra = await brokenCopy("extra", (t) => {
      t["model.layers.0.self_attn.extra.weight"] = tf.zeros([2]);
    });
    expect(() => Qwen2ForCausalLM.fromPretrained(extra)).toThrow(
      /unexpected 1 key\(s\): model.layers.0.self_attn.extra/,
    );
    const tied = await brokenCopy("tied-head", (t) => {
      t["lm_head.weight"] = t["model.embed_tokens.weight"].clone();
    });
    Qwen2ForCausalLM.fromPretrained(tied).dispose();
  });

  it("savePretrained → fromPretrained round-trips an untied model exactly", async () => {
    const config = parseQwen2Config({
      vocab_size: 40,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      tie_word_embeddings: false,
      eos_token_id: [3, 4],
    });
    const model = new Qwen2ForCausalLM(config, { seed: 5 });
    const out = join(dir, "roundtrip");
    await model.savePretrained(out);
    const loaded = Qwen2ForCausalLM.fromPretrained(out);
    expect(loaded.config).toEqual(config);
    for (const [k, v] of model.stateDict())
      expect(compareTensors(loaded.stateDict().get(k)!, v).maxAbs, k).toBe(0);
    // Sharded: several model-0000i-of-0000n.safetensors files behind model.safetensors.index.json.
    const sharded = join(dir, "sharded");
    await model.savePretrained(sharded, { maxShardSize: 4000 });
    expect(existsSync(join(sharded, "model.safetensors.index.json"))).toBe(true);
    const reloaded = Qwen2ForCausalLM.fromPretrained(sharded);
    for (const [k, v] of model.stateDict())
      expect(compareTensors(reloaded.stateDict().get(k)!, v).maxAbs, k).toBe(0);
    for (const m of [model, loaded, reloaded]) m.dispose();
  });
});
