import { initBackend, Linear, Module, RMSNorm } from "@llava-ts/core";
import { beforeAll, describe, expect, it } from "vitest";
import { applyStrategy, formatStrategySummary } from "./apply-strategy.js";
import { noDecayParameterNames } from "./weight-decay-groups.js";

class Attn extends Module {
  q_proj = this.module("q_proj", new Linear(4, 4));
  o_proj = this.module("o_proj", new Linear(4, 4, { bias: false }));
}
class Part extends Module {
  self_attn = this.module("self_attn", new Attn());
  norm = this.module("norm", new RMSNorm(4));
}
/** The LLaVA tree's shape in miniature: three top-level parts with HF-style names. */
class FakeLlava extends Module {
  vision_tower = this.module("vision_tower", new Part());
  multi_modal_projector = this.module("multi_modal_projector", new Linear(4, 4));
  language_model = this.module("language_model", new Part());
}

const trainable = (m: Module) => m.trainableParameters().map(([n]) => n);

beforeAll(async () => {
  await initBackend();
});

describe("applyStrategy", () => {
  it("freeze_vision, none and projector_only set the flags of the whole tree", () => {
    const m = new FakeLlava();
    const s = applyStrategy(m, "freeze_vision");
    expect(s.parts.vision_tower).toEqual({ trainable: 0, total: 40 });
    expect(s.parts.language_model).toEqual({ trainable: 40, total: 40 });
    expect(s.parts.multi_modal_projector).toEqual({ trainable: 20, total: 20 });
    expect(applyStrategy(m, "none").trainable).toBe(100);
    expect(trainable(m).length).toBe(m.stateDict().size);
    applyStrategy(m, "projector_only");
    expect(trainable(m)).toEqual(["multi_modal_projector.weight", "multi_modal_projector.bias"]);
    expect(formatStrategySummary(applyStrategy(m, "none"))).toContain("vision_tower: 40 / 40");
    m.dispose();
  });

  it("use_lora applies a LoRA config when given and trains only adapters and the projector copy", () => {
    const m = new FakeLlava();
    expect(() => applyStrategy(m, "use_lora")).toThrow(/no LoRA layers; pass \{ lora \}/);
    const lora = {
      r: 2,
      lora_alpha: 4,
      target_modules: ["q_proj"],
      modules_to_save: ["multi_modal_projector"],
    };
    const s = applyStrategy(m, "use_lora", { lora });
    expect(trainable(m).sort()).toEqual([
      "language_model.self_attn.q_proj.lora_A.default.weight",
      "language_model.self_attn.q_proj.lora_B.default.weight",
      "multi_modal_projector.modules_to_save.default.bias",
      "multi_modal_projector.modules_to_save.default.weight",
    ]);
    expect(s.parts.vision_tower.trainable).toBe(0);
    const frozenProjector = applyStrategy(m, "use_lora", { freezeProjector: true });
    expect(frozenProjector.parts.multi_modal_projector.trainable).toBe(0);
    expect(frozenProjector.trainable).toBe(16);
    m.dispose();
  });

  it("rejects unknown strategies and models without the three parts", () => {
    const m = new FakeLlava();
    expect(() => applyStrategy(m, "full" as never)).toThrow(/unknown strategy "full"/);
    expect(() => applyStrategy(new Part(), "none")).toThrow(
      /no vision_tower, multi_modal_projector, language_model/,
    );
    m.dispose();
  });
});

describe("noDecayParameterNames (HF Trainer's grouping)", () => {
  it("excludes biases and norm weights by default, a pattern when given, nothing with 'none'", () => {
    const m = new FakeLlava();
    expect([...noDecayParameterNames(m)].sort()).toEqual([
      "language_model.norm.weight",
      "language_model.self_attn.q_proj.bias",
      "multi_modal_projector.bias",
      "vision_tower.norm.weight",
      "vision_tower.self_attn.q_proj.bias",
    ]);
    expect([...noDecayParameterNames(m, "vision_tower.*")].length).toBe(4);
    expect(noDecayParameterNames(m, "none").size).toBe(0);
    m.dispose();
  });
});
