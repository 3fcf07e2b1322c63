import { readFileSync } from "node:fs";
import { ConfigError } from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import { describe, expect, it } from "vitest";
import { loraConfig, loraScaling, parseLoraConfig, readLoraConfig } from "./lora-config.js";
import { autoMappingFor, loraConfigToJson } from "./lora-config-json.js";
import { pyFloatRepr } from "./python-json.js";

const fixtureConfig = () => fixturePath("hf/llava-lora-init/adapter_config.json");

describe("LoraConfig", () => {
  it("parses PEFT's adapter_config.json", () => {
    const c = readLoraConfig(fixtureConfig());
    expect(c.r).toBe(8);
    expect(c.lora_alpha).toBe(16);
    expect(c.lora_dropout).toBe(0);
    expect(c.target_modules).toBe(
      ".*language_model.*\\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
    );
    expect(c.modules_to_save).toEqual(["multi_modal_projector"]);
    expect(c.task_type).toBeNull();
    expect(loraScaling(c, c.r, c.lora_alpha)).toBe(2);
  });

  it("writes the same bytes PEFT wrote for the same config", () => {
    const text = readFileSync(fixtureConfig(), "utf8");
    const c = parseLoraConfig(JSON.parse(text));
    expect(loraConfigToJson(c, autoMappingFor("LlavaForConditionalGeneration"))).toBe(text);
  });

  it("fills PEFT's defaults and writes auto_mapping only without a task_type", () => {
    const c = loraConfig({ r: 4, target_modules: ["q_proj"], task_type: "CAUSAL_LM", lora_dropout: 0.05 });
    expect(c.lora_alpha).toBe(8);
    expect(c.bias).toBe("none");
    expect(c.init_lora_weights).toBe(true);
    const json = JSON.parse(loraConfigToJson(c, autoMappingFor("Qwen2ForCausalLM")));
    expect(json.auto_mapping).toBeNull();
    expect(json.inference_mode).toBe(true);
    expect(json.lora_dropout).toBe(0.05);
    expect(json.target_modules).toEqual(["q_proj"]);
    expect(loraConfigToJson(c)).toContain('"lora_dropout": 0.05,');
  });

  it("uses alpha / √r with use_rslora", () => {
    const c = loraConfig({ r: 16, lora_alpha: 8, use_rslora: true });
    expect(loraScaling(c, 16, 8)).toBe(2);
  });

  it("rejects what it does not implement, naming the key and value", () => {
    const base = JSON.parse(readFileSync(fixtureConfig(), "utf8"));
    expect(() => parseLoraConfig({ ...base, peft_type: "IA3" }, "x/adapter_config.json")).toThrow(
      /x\/adapter_config.json: peft_type: unsupported adapter type "IA3"/,
    );
    expect(() => parseLoraConfig({ ...base, bias: "all" })).toThrow(ConfigError);
    expect(() => parseLoraConfig({ ...base, bias: "lora_only" })).toThrow(
      /bias: "lora_only" is not supported/,
    );
    expect(() => parseLoraConfig({ ...base, use_dora: true })).toThrow(/use_dora: true is not supported/);
    expect(() => parseLoraConfig({ ...base, r: 0 })).toThrow(/r: expected a positive integer/);
    expect(() => parseLoraConfig({ ...base, fan_in_fan_out: true })).toThrow(/fan_in_fan_out/);
    expect(() => parseLoraConfig({ ...base, target_modules: "(" })).toThrow(/not a valid regex/);
    expect(() => parseLoraConfig({ ...base, future_feature: { on: 1 } })).toThrow(/future_feature/);
    // Keys from newer PEFT versions are fine while switched off.
    expect(parseLoraConfig({ ...base, lora_bias: false, exclude_modules: null }).r).toBe(8);
  });

  it("prints floats as Python's repr", () => {
    expect(pyFloatRepr(0)).toBe("0.0");
    expect(pyFloatRepr(0.05)).toBe("0.05");
    expect(pyFloatRepr(1e-5)).toBe("1e-05");
    expect(pyFloatRepr(16)).toBe("16.0");
  });
});
