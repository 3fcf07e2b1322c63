import { describe, expect, it } from "vitest";
import { matchesTargetModules, patternValue } from "./target-modules.js";

describe("target_modules matching (PEFT's check_target_module_exists)", () => {
  it("a list matches the name or a suffix after a dot", () => {
    expect(matchesTargetModules("language_model.model.layers.0.self_attn.q_proj", ["q_proj"])).toBe(true);
    expect(matchesTargetModules("q_proj", ["q_proj"])).toBe(true);
    expect(matchesTargetModules("a.xq_proj", ["q_proj"])).toBe(false);
    expect(matchesTargetModules("a.q_proj.b", ["q_proj"])).toBe(false);
    expect(matchesTargetModules("a.self_attn.q_proj", ["self_attn.q_proj"])).toBe(true);
  });

  it("a string is a regex that must match the whole name", () => {
    const re = ".*language_model.*\\.(q_proj|v_proj)";
    expect(matchesTargetModules("language_model.model.layers.0.self_attn.q_proj", re)).toBe(true);
    expect(matchesTargetModules("vision_tower.vision_model.encoder.layers.0.self_attn.q_proj", re)).toBe(
      false,
    );
    expect(matchesTargetModules("language_model.model.layers.0.self_attn.q_proj.base_layer", re)).toBe(false);
    expect(matchesTargetModules("q_proj", "q_proj|v_proj")).toBe(true);
    expect(matchesTargetModules("a.q_proj", "q_proj|v_proj")).toBe(false);
  });

  it("rank_pattern keys match a dotted suffix", () => {
    expect(patternValue("m.layers.0.self_attn.q_proj", { "layers.0.self_attn.q_proj": 4 }, 8)).toBe(4);
    expect(patternValue("m.layers.10.self_attn.q_proj", { "layers.0.self_attn.q_proj": 4 }, 8)).toBe(8);
    expect(patternValue("m.layers.3.mlp.down_proj", { "layers\\.\\d+\\.mlp\\.down_proj": 2 }, 8)).toBe(2);
  });
});
