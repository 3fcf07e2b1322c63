import { ConfigError, initBackend, SafetensorsFile } from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { Qwen2ForCausalLM } from "./causal-lm.js";
import { loadQwen2Config, parseQwen2Config, qwen2ParameterCount } from "./config.js";

const tiny = {
  model_type: "qwen2",
  vocab_size: 32,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

beforeAll(async () => {
  await initBackend();
});

describe("parseQwen2Config", () => {
  it.each([
    ["Qwen2.5-0.5B-Instruct", 494_032_768, true],
    ["Qwen2.5-3B-Instruct", 3_085_938_688, true],
    ["Qwen2.5-7B-Instruct", 7_615_616_512, false],
  ])("parses the real %s config and counts %d parameters", (name, count, tied) => {
    const config = loadQwen2Config(fixturePath("configs", name));
    expect(config.tie_word_embeddings).toBe(tied);
    expect(config.rope_theta).toBe(1e6);
    expect(config.eos_token_id).toBe(151645);
    expect(qwen2ParameterCount(config)).toBe(count);
  });

  it("fills defaults and ignores unknown keys", () => {
    const config = parseQwen2Config({ ...tiny, num_key_value_heads: undefined, something_new: [1, 2] });
    expect(config.num_key_value_heads).toBe(4);
    expect(config.hidden_act).toBe("silu");
    expect(config.rms_norm_eps).toBe(1e-6);
    expect("something_new" in config).toBe(false);
  });

  it("rejects a hidden size that does not divide by the head count, naming both", () => {
    const bad = () => parseQwen2Config({ ...tiny, hidden_size: 18 }, "bad/config.json");
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/hidden_size: 18 is not divisible by num_attention_heads = 4/);
    expect(bad).toThrow(/bad\/config.json/);
  });

  it("rejects query heads that do not group over the kv heads", () => {
    expect(() => parseQwen2Config({ ...tiny, num_key_value_heads: 3 })).toThrow(
      /num_attention_heads: 4 is not divisible by num_key_value_heads = 3/,
    );
  });

  it("rejects wrong types and other model types", () => {
    expect(() => parseQwen2Config({ ...tiny, hidden_size: "16" })).toThrow(/hidden_size: expected a number/);
    expect(() => parseQwen2Config({ ...tiny, model_type: "llama" })).toThrow(/expected "qwen2"/);
  });
});

describe("parameters", () => {
  it("the model's parameter count equals the config formula, tied and untied", () => {
    for (const tie of [true, false]) {
      const config = parseQwen2Config({ ...tiny, tie_word_embeddings: tie });
      const model = new Qwen2ForCausalLM(config);
      expect(model.numParameters()).toBe(qwen2ParameterCount(config));
      expect(model.stateDict().has("lm_head.weight")).toBe(!tie);
      model.dispose();
    }
  });

  it("state-dict keys are exactly those of the HF checkpoint", () => {
    const config = loadQwen2Config(fixturePath("hf/qwen2"));
    const model = new Qwen2ForCausalLM(config, { init: "zeros" });
    const file = SafetensorsFile.open(fixturePath("hf/qwen2/model.safetensors"));
    const header = file.keys();
    file.close();
    expect([...model.stateDict().keys()].sort()).toEqual(header.sort());
    expect([...model.stateDict().keys()].slice(0, 6)).toEqual([
      "model.embed_tokens.weight",
      "model.layers.0.self_attn.q_proj.weight",
      "model.layers.0.self_attn.q_proj.bias",
      "model.layers.0.self_attn.k_proj.weight",
      "model.layers.0.self_attn.k_proj.bias",
      "model.layers.0.self_attn.v_proj.weight",
    ]);
    model.dispose();
  });

  it("seeded init is reproducible: normal(0, initializer_range), norms 1, biases 0", () => {
    const config = parseQwen2Config({ ...tiny, initializer_range: 0.5 });
    const a = new Qwen2ForCausalLM(config, { seed: 7 });
    const b = new Qwen2ForCausalLM(config, { seed: 7 });
    const sa = a.stateDict();
    const sb = b.stateDict();
    const w = Array.from(sa.get("model.layers.0.mlp.up_proj.weight")!.dataSync() as Float32Array);
    expect(Array.from(w)).toEqual(Array.from(sb.get("model.layers.0.mlp.up_proj.weight")!.dataSync()));
    const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    expect(std).toBeGreaterThan(0.4);
    expect(std).toBeLessThan(0.6);
    expect(new Set(sa.get("model.norm.weight")!.dataSync())).toEqual(new Set([1]));
    expect(new Set(sa.get("model.layers.1.self_attn.k_proj.bias")!.dataSync())).toEqual(new Set([0]));
    a.dispose();
    b.dispose();
  });
});
