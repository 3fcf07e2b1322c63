import { ConfigError, initBackend, Linear, normalInit, Rng } from "@llava-ts/core";
import { expectNoLeaks, expectTensorsClose } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { TinyLlava } from "../test/test-models.js";
import { applyLora } from "./apply-lora.js";
import { LoraLinear } from "./lora-linear.js";
import { mergeAndUnload, mergeLora, unloadLora, unmergeLora } from "./merge-lora.js";
import { ModulesToSaveWrapper } from "./modules-to-save-wrapper.js";

beforeAll(async () => {
  await initBackend();
});

const input = () => tf.tensor(normalInit(1, new Rng(5))([2, 3, 8]), [2, 3, 8]);

/** Gives every B a non-zero value so adapters change the output. */
function perturb(model: TinyLlava): void {
  const rng = new Rng(9);
  for (const [name, p] of model.trainableParameters())
    if (name.includes("lora_B") || name.includes("modules_to_save"))
      p.assign(p.add(tf.tensor(normalInit(0.3, rng)(p.shape), p.shape)));
}

describe("applyLora", () => {
  it("wraps only the language model by default and says what it skipped", () => {
    const m = new TinyLlava();
    const s = applyLora(m, { r: 2, lora_alpha: 4, target_modules: ["q_proj", "k_proj", "v_proj"] });
    expect(s.scope).toBe("language_model");
    expect(s.parts).toEqual({
      language_model: { wrapped: 6, outOfScope: 0 },
      vision_tower: { wrapped: 0, outOfScope: 6 },
    });
    expect(m.getSubmodule("language_model.model.layers.0.self_attn.q_proj")).toBeInstanceOf(LoraLinear);
    expect(m.getSubmodule("vision_tower.vision_model.encoder.layers.0.self_attn.q_proj")).toBeInstanceOf(
      Linear,
    );
    expect(m.textLayers[0].q_proj).toBeInstanceOf(LoraLinear); // the parent's property follows
    const text = s.toString();
    expect(text).toMatch(/language_model: 6 wrapped/);
    expect(text).toMatch(/vision_tower: 0 wrapped; 6 matched target_modules but are outside the scope/);
  });

  it('scope "all" or a prefix list opts the vision tower in', () => {
    const all = applyLora(new TinyLlava(), { target_modules: ["q_proj"] }, { scope: "all" });
    expect(all.parts).toEqual({
      vision_tower: { wrapped: 2, outOfScope: 0 },
      language_model: { wrapped: 2, outOfScope: 0 },
    });
    const some = applyLora(
      new TinyLlava(),
      { target_modules: ["q_proj"] },
      { scope: ["vision_tower.vision_model.encoder.layers.1"] },
    );
    expect(some.wrapped).toEqual(["vision_tower.vision_model.encoder.layers.1.self_attn.q_proj"]);
    expect(() =>
      applyLora(new TinyLlava(), { target_modules: ["q_proj"] }, { scope: ["vison_tower"] }),
    ).toThrow(
      /scope: no module "vison_tower" \(top-level modules: vision_tower, multi_modal_projector, language_model\)/,
    );
  });

  it("freezes everything but LoRA weights and modules_to_save, named as PEFT names them", () => {
    const m = new TinyLlava();
    const s = applyLora(m, { r: 2, target_modules: ["q_proj"], modules_to_save: ["multi_modal_projector"] });
    const names = m.trainableParameters().map(([n]) => n);
    expect(names).toEqual([
      "multi_modal_projector.modules_to_save.default.linear_1.weight",
      "multi_modal_projector.modules_to_save.default.linear_1.bias",
      "multi_modal_projector.modules_to_save.default.linear_2.weight",
      "multi_modal_projector.modules_to_save.default.linear_2.bias",
      "language_model.model.layers.0.self_attn.q_proj.lora_A.default.weight",
      "language_model.model.layers.0.self_attn.q_proj.lora_B.default.weight",
      "language_model.model.layers.1.self_attn.q_proj.lora_A.default.weight",
      "language_model.model.layers.1.self_attn.q_proj.lora_B.default.weight",
    ]);
    const all = [...m.namedParameters()].map(([n]) => n);
    expect(all).toContain("multi_modal_projector.original_module.linear_1.weight");
    expect(all).toContain("language_model.model.layers.0.self_attn.q_proj.base_layer.weight");
    expect(s.modulesToSave).toEqual(["multi_modal_projector"]);
    expect(s.trainableParameters).toBe(2 * (64 + 8) + 2 * (2 * 8 + 8 * 2));
    expect(m.multi_modal_projector).toBeInstanceOf(ModulesToSaveWrapper);
    expect((m.multi_modal_projector as unknown as { linear_1: Linear }).linear_1).toBeInstanceOf(Linear);
  });

  it("accepts a regex like PEFT (full match)", () => {
    const m = new TinyLlava();
    const s = applyLora(m, { target_modules: ".*language_model.*\\.(q_proj|o_proj)" }, { scope: "all" });
    expect(s.parts).toEqual({ language_model: { wrapped: 4, outOfScope: 0 } });
  });

  it("leaves the output unchanged at init and does not leak", async () => {
    const m = new TinyLlava();
    const x = input();
    const before = m.forward(x);
    applyLora(m, {
      target_modules: ["q_proj", "v_proj", "o_proj"],
      modules_to_save: ["multi_modal_projector"],
    });
    expectTensorsClose(m.forward(x), before, { atol: 1e-6 });
    await expectNoLeaks(() => m.forward(x));
  });

  it("merge / unmerge / mergeAndUnload / unloadLora", () => {
    const m = new TinyLlava();
    const x = input();
    const base = m.forward(x);
    applyLora(m, {
      target_modules: ["q_proj", "v_proj", "o_proj"],
      modules_to_save: ["multi_modal_projector"],
    });
    perturb(m);
    const adapted = m.forward(x);
    expect(tf.abs(adapted.sub(base)).max().dataSync()[0]).toBeGreaterThan(1e-2);
    expect(mergeLora(m)).toBe(6);
    expectTensorsClose(m.forward(x), adapted, { atol: 1e-5 });
    expect(unmergeLora(m)).toBe(6);
    expectTensorsClose(m.forward(x), adapted, { atol: 1e-5 });
    const plain = mergeAndUnload(m);
    expect(
      [...plain.namedParameters()].some(([n]) => /lora_|base_layer|modules_to_save|original_module/.test(n)),
    ).toBe(false);
    expect(plain.textLayers[1].v_proj).toBeInstanceOf(Linear);
    expect(plain.multi_modal_projector).not.toBeInstanceOf(ModulesToSaveWrapper);
    expectTensorsClose(plain.forward(x), adapted, { atol: 1e-5 });

    const m2 = new TinyLlava();
    applyLora(m2, { target_modules: ["q_proj"] });
    perturb(m2);
    expectTensorsClose(unloadLora(m2).forward(x), base, { atol: 0 });
  });

  it("target_modules matching nothing lists the linear layers there are", () => {
    const m = new TinyLlava();
    expect(() => applyLora(m, { target_modules: ["query"] })).toThrow(ConfigError);
    expect(() => applyLora(m, { target_modules: ["query"] })).toThrow(
      /target_modules \["query"\] matches no module\. Linear layers are named e\.g\. vision_tower\.vision_model\.encoder\.layers\.0\.self_attn\.q_proj.*suffixes: q_proj, k_proj, v_proj, out_proj, linear_1, linear_2, o_proj, lm_head/,
    );
    expect(() => applyLora(m, { target_modules: ["out_proj"] })).toThrow(
      /all outside the scope language_model/,
    );
    expect(() => applyLora(m, { target_modules: ["self_attn"] }, { scope: "all" })).toThrow(
      /selects ".*self_attn", a Attention; only Linear layers/,
    );
    expect(() => applyLora(m, { target_modules: ["q_proj"], modules_to_save: ["projector"] })).toThrow(
      /modules_to_save: no module named "projector"/,
    );
  });
});
