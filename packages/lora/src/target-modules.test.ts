import { describe, expect, it } from "vitest";
import { exactTargetRegex, matchesTargetModules, patternValue } from "./target-modules.js";

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

  it("exactTargetRegex: PEFT's regex form when it selects exactly the wrapped layers, else their paths", () => {
    const modules = [
      "language_model.layers.0.q_proj",
      "language_model.layers.0.v_proj",
      "language_model.layers.0.mlp",
      "vision_tower.layers.0.q_proj",
    ];
    const text = ["language_model.layers.0.q_proj", "language_model.layers.0.v_proj"];
    expect(exactTargetRegex(text, modules, ["q_proj", "v_proj"], ["language_model"])).toBe(
      ".*language_model.*\\.(q_proj|v_proj)",
    );
    expect(
      exactTargetRegex(
        modules.filter((m) => m.endsWith("q_proj")),
        modules,
        ["q_proj"],
        null,
      ),
    ).toBe("(.*\\.)?(q_proj)");
    // A regex of the user's that also selects what the scope left out: the wrapped paths instead.
    const fallback = exactTargetRegex(text, modules, ".*_proj", ["language_model"]);
    expect(fallback).toBe("(language_model\\.layers\\.0\\.q_proj|language_model\\.layers\\.0\\.v_proj)");
    for (const re of [fallback, ".*language_model.*\\.(q_proj|v_proj)"])
      expect(modules.filter((m) => matchesTargetModules(m, re))).toEqual(text);
  });
});
