import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  FormatError,
  initBackend,
  normalInit,
  Rng,
  saveSafetensors,
  WeightLoadError,
} from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { LlavaForConditionalGeneration, TinyLlava } from "../test/test-models.js";
import { applyLora } from "./apply-lora.js";
import { loadAdapter } from "./load-adapter.js";
import { loraConfigOf, loraLayers } from "./lora-layers.js";
import type { LoraLinear } from "./lora-linear.js";
import { adapterStateDict } from "./peft-keys.js";
import { saveAdapter } from "./save-adapter.js";
import { matchesTargetModules } from "./target-modules.js";

beforeAll(async () => {
  await initBackend();
});

const tmp = () => mkdtempSync(join(tmpdir(), "lora-test-"));
const fixture = (name: string) => fixturePath("hf", name);
const baseModel = () => new LlavaForConditionalGeneration(join(fixture("llava"), "model.safetensors"));

describe("PEFT adapter files", () => {
  for (const name of ["llava-lora-init", "llava-lora-trained"])
    it(`${name}: load then save gives PEFT's files byte for byte`, async () => {
      const model = baseModel();
      const s = loadAdapter(model, fixture(name));
      // The file decides: 2 layers × 7 projections of the language model, nothing in the vision tower.
      expect(s.parts).toEqual({ language_model: { wrapped: 14, outOfScope: 0 } });
      expect(s.modulesToSave).toEqual(["multi_modal_projector"]);
      expect(model.trainableParameters()).toEqual([]); // PEFT's default: inference
      const dir = tmp();
      await saveAdapter(model, dir);
      expect(readFileSync(join(dir, "adapter_config.json"), "utf8")).toBe(
        readFileSync(join(fixture(name), "adapter_config.json"), "utf8"),
      );
      expect(
        readFileSync(join(dir, "adapter_model.safetensors")).equals(
          readFileSync(join(fixture(name), "adapter_model.safetensors")),
        ),
      ).toBe(true);
    });

  it("applyLora with the fixture's config wraps and names what PEFT did", async () => {
    const model = baseModel();
    const config = JSON.parse(readFileSync(join(fixture("llava-lora-init"), "adapter_config.json"), "utf8"));
    applyLora(model, config);
    const ours = [...adapterStateDict(model)].map(([k, v]) => `${k} [${v.shape}]`).sort();
    const dir = tmp();
    await saveAdapter(model, dir);
    loadAdapter(baseModel(), dir); // our file loads
    const peft = baseModel();
    loadAdapter(peft, fixture("llava-lora-init"));
    expect(ours).toEqual([...adapterStateDict(peft)].map(([k, v]) => `${k} [${v.shape}]`).sort());
    expect(readFileSync(join(dir, "adapter_config.json"), "utf8")).toBe(
      readFileSync(join(fixture("llava-lora-init"), "adapter_config.json"), "utf8"),
    );
  });

  it("a suffix list is saved as the regex PEFT applies to exactly the wrapped layers (the fixture's config, byte for byte)", async () => {
    const model = baseModel();
    const names = [...model.namedModules()].map(([n]) => n).filter((n) => n !== "");
    const targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    applyLora(model, {
      r: 8,
      lora_alpha: 16,
      lora_dropout: 0,
      target_modules: targets,
      modules_to_save: ["multi_modal_projector"],
      base_model_name_or_path: "", // as the fixture was made
    });
    const wrapped = loraLayers(model).map(([n]) => n);
    const dir = tmp();
    await saveAdapter(model, dir);
    const saved = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8")).target_modules;
    expect(saved).toBe(".*language_model.*\\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)");
    expect(names.filter((n) => matchesTargetModules(n, saved))).toEqual(wrapped);
    // The list itself, which PEFT applies to the whole model, would also take CLIP's q/k/v projections.
    const byList = names.filter((n) => matchesTargetModules(n, targets));
    expect(byList.filter((n) => n.startsWith("vision_tower.")).length).toBeGreaterThan(0);
    expect(readFileSync(join(dir, "adapter_config.json"), "utf8")).toBe(
      readFileSync(join(fixture("llava-lora-init"), "adapter_config.json"), "utf8"),
    );
    // Either form reads back: loading follows the weights, so a config with the list loads the same layers.
    const listed = tmp();
    copyFileSync(join(dir, "adapter_model.safetensors"), join(listed, "adapter_model.safetensors"));
    const json = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
    writeFileSync(join(listed, "adapter_config.json"), JSON.stringify({ ...json, target_modules: targets }));
    const back = baseModel();
    loadAdapter(back, listed);
    expect(loraLayers(back).map(([n]) => n)).toEqual(wrapped);
    expect(loraConfigOf(back)?.target_modules).toEqual(targets);
  });

  it("save → load round trip is bit-exact and follows the file, not the default scope", async () => {
    const model = new TinyLlava();
    applyLora(
      model,
      {
        r: 2,
        lora_alpha: 4,
        target_modules: ["q_proj", "o_proj", "out_proj"],
        modules_to_save: ["multi_modal_projector"],
      },
      { scope: "all" },
    );
    const rng = new Rng(3);
    for (const [, p] of model.trainableParameters())
      p.assign(tf.tensor(normalInit(1, rng)(p.shape), p.shape));
    const dir = tmp();
    const saved = await saveAdapter(model, dir);
    expect(saved.keys).toContain(
      "base_model.model.vision_tower.vision_model.encoder.layers.0.self_attn.out_proj.lora_A.weight",
    );
    expect(saved.keys).toContain("base_model.model.multi_modal_projector.linear_1.bias");

    const fresh = new TinyLlava();
    const s = loadAdapter(fresh, dir, { trainable: true });
    expect(s.parts).toEqual({
      vision_tower: { wrapped: 4, outOfScope: 0 },
      language_model: { wrapped: 4, outOfScope: 0 },
    });
    const a = adapterStateDict(model);
    const b = adapterStateDict(fresh);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a)
      expect(
        Buffer.from((await b.get(k)!.data()).buffer).equals(Buffer.from((await v.data()).buffer)),
        k,
      ).toBe(true);
    expect(fresh.trainableParameters().map(([n]) => n)).toEqual(model.trainableParameters().map(([n]) => n));
    const x = tf.ones([1, 2, 8]);
    expect(
      Buffer.from(fresh.forward(x).dataSync().buffer).equals(Buffer.from(model.forward(x).dataSync().buffer)),
    ).toBe(true);
    expect((fresh.getSubmodule("language_model.model.layers.0.self_attn.q_proj") as LoraLinear).scaling).toBe(
      2,
    );
  });

  it("a shape that does not fit names the tensor and both shapes, and leaves the model alone", async () => {
    const dir = tmp();
    copyFileSync(join(fixture("llava-lora-init"), "adapter_config.json"), join(dir, "adapter_config.json"));
    await saveSafetensors(join(dir, "adapter_model.safetensors"), {
      "base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_A.weight": tf.zeros([8, 32]),
      "base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_B.weight": tf.zeros([64, 8]),
      "base_model.model.multi_modal_projector.linear_1.weight": tf.zeros([64, 64]),
      "base_model.model.multi_modal_projector.linear_1.bias": tf.zeros([64]),
      "base_model.model.multi_modal_projector.linear_2.weight": tf.zeros([64, 64]),
      "base_model.model.multi_modal_projector.linear_2.bias": tf.zeros([64]),
    });
    const model = baseModel();
    const err = (() => {
      try {
        loadAdapter(model, dir);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(WeightLoadError);
    expect(err!.message).toMatch(
      /base_model\.model\.language_model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight \(expected \[8,64\], found \[8,32\]\)/,
    );
    expect(err!.message).toContain("adapter_model.safetensors");
    expect([...model.namedParameters()].some(([n]) => n.includes("lora_"))).toBe(false);
  });

  it("refuses another peft_type, a missing weights file, and keys outside LoRA / modules_to_save", async () => {
    const dir = tmp();
    const config = JSON.parse(readFileSync(join(fixture("llava-lora-init"), "adapter_config.json"), "utf8"));
    writeFileSync(
      join(dir, "adapter_config.json"),
      JSON.stringify({ ...config, peft_type: "PREFIX_TUNING" }),
    );
    expect(() => loadAdapter(baseModel(), dir)).toThrow(ConfigError);
    expect(() => loadAdapter(baseModel(), dir)).toThrow(
      /adapter_config\.json: peft_type: unsupported adapter type "PREFIX_TUNING"/,
    );

    writeFileSync(join(dir, "adapter_config.json"), JSON.stringify(config));
    expect(() => loadAdapter(baseModel(), dir)).toThrow(FormatError);
    expect(() => loadAdapter(baseModel(), dir)).toThrow(
      /adapter_model\.safetensors: adapter weights not found/,
    );
    const empty = join(dir, "nothing");
    mkdirSync(empty);
    expect(() => loadAdapter(baseModel(), empty)).toThrow(
      /nothing\/adapter_config\.json: no adapter_config\.json/,
    );

    await saveSafetensors(join(dir, "adapter_model.safetensors"), {
      "base_model.model.language_model.model.norm.weight": tf.zeros([64]),
    });
    expect(() => loadAdapter(baseModel(), dir)).toThrow(
      /unexpected .*language_model\.model\.norm\.weight \(not a LoRA weight and not under modules_to_save/,
    );
  });
});
