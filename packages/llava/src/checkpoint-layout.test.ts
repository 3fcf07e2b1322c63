// The key mapping against transformers' own rules. HF_MAPPING is LlavaForConditionalGeneration.
// _checkpoint_conversion_mapping of transformers ≥ 4.52 (src/transformers/models/llava/modeling_llava.py),
// applied as its loader does (re.subn per pattern in order, the first that renames wins) and reversed as its
// save_pretrained does (pattern ↔ replacement, "^" stripped from the replacement).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend, SafetensorsCheckpoint } from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkpointLayout, toCurrentKey, toLegacyKey } from "./checkpoint-layout.js";
import { LlavaForConditionalGeneration } from "./llava-model.js";

const HF_MAPPING: Record<string, string> = {
  "^language_model.model": "model.language_model",
  "^vision_tower": "model.vision_tower",
  "^multi_modal_projector": "model.multi_modal_projector",
  "^language_model.lm_head": "lm_head",
};

function hfLoadKey(key: string): string {
  for (const [pattern, replacement] of Object.entries(HF_MAPPING)) {
    const re = new RegExp(pattern);
    if (re.test(key)) return key.replace(re, replacement);
  }
  return key;
}

function hfSaveKey(key: string): string {
  for (const [replacement, pattern] of Object.entries(HF_MAPPING)) {
    const re = new RegExp(pattern);
    if (re.test(key)) return key.replace(re, replacement.replace(/^\^/, ""));
  }
  return key;
}

const tmp = mkdtempSync(join(tmpdir(), "llava-layout-"));
let model: LlavaForConditionalGeneration;

beforeAll(async () => {
  await initBackend();
  model = LlavaForConditionalGeneration.fromPretrained(fixturePath("hf/llava"));
});

afterAll(() => {
  model?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe("checkpoint layouts", () => {
  it("map every key of llava-1.5-7b-hf as transformers ≥ 4.52 does, both ways", () => {
    const index = JSON.parse(
      readFileSync(fixturePath("configs/llava-1.5-7b-hf/model.safetensors.index.json"), "utf8"),
    );
    const legacy = Object.keys(index.weight_map);
    expect(legacy.length).toBeGreaterThan(600);
    const current = legacy.map(hfLoadKey);
    expect(legacy.map(toCurrentKey)).toEqual(current);
    expect(current.map(toLegacyKey)).toEqual(legacy);
    expect(current.map(hfSaveKey)).toEqual(legacy);
    expect(new Set(current.map((k) => k.split(".").slice(0, 2).join(".")))).toEqual(
      new Set([
        "model.language_model",
        "model.vision_tower",
        "model.multi_modal_projector",
        "lm_head.weight",
      ]),
    );
    expect(checkpointLayout(legacy)).toBe("legacy");
    expect(checkpointLayout(current)).toBe("current");
    expect(legacy.map(toLegacyKey)).toEqual(legacy); // legacy keys load unchanged
  });

  it("saves in either layout and loads both to the same weights", async () => {
    const out = join(tmp, "current");
    await model.savePretrained(out, { layout: "current" });
    const ckpt = SafetensorsCheckpoint.open(out);
    const keys = ckpt.keys();
    ckpt.close();
    const legacyKeys = [...model.stateDict().keys()];
    expect([...keys].sort()).toEqual(legacyKeys.map(hfLoadKey).sort());
    const back = LlavaForConditionalGeneration.fromPretrained(out);
    const a = model.stateDict();
    const b = back.stateDict();
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(b.get(k)!.dataSync(), k).toEqual(v.dataSync());
    back.dispose();
  });
});
