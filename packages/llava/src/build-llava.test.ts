import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend, SafetensorsCheckpoint } from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import { Tokenizer } from "@llava-ts/tokenizer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendMeanRows, buildLlava, projectorEntries } from "./build-llava.js";
import { LlavaForConditionalGeneration } from "./llava-model.js";

const tmp = mkdtempSync(join(tmpdir(), "llava-build-"));

beforeAll(async () => {
  await initBackend();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("buildLlava from fixtures/hf/clip-vision + fixtures/hf/qwen2 (+ the Qwen2.5 tokenizer)", () => {
  const out = join(tmp, "built");
  let result: Awaited<ReturnType<typeof buildLlava>>;

  beforeAll(async () => {
    result = await buildLlava({
      vision: fixturePath("hf/clip-vision"),
      llm: fixturePath("hf/qwen2"),
      tokenizer: fixturePath("tokenizers/qwen2.5"),
      out,
      seed: 7,
    });
  });

  it("does the tokenizer surgery: <image> = 151665, pad <|endoftext|> = 151643", async () => {
    expect(result.imageTokenIndex).toBe(151665);
    expect(result.padTokenId).toBe(151643);
    const tok = await Tokenizer.fromPretrained(out);
    expect(tok.tokenToId("<image>")).toBe(151665);
    expect(tok.padTokenId).toBe(151643);
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(config).toMatchObject({
      model_type: "llava",
      image_token_index: 151665,
      pad_token_id: 151643,
      image_seq_length: 16,
      vision_feature_layer: -2,
      vision_feature_select_strategy: "default",
      projector_hidden_act: "gelu",
    });
  });

  it("grows the 512-row embedding only because the new ids do not fit, with mean rows", () => {
    expect(result.resize).toEqual({ needed: true, currentRows: 512, newRows: 151666, addedRows: 151154 });
    const src = SafetensorsCheckpoint.open(fixturePath("hf/qwen2"));
    const dst = SafetensorsCheckpoint.open(out);
    const before = src.read("model.embed_tokens.weight").data as Float32Array;
    const after = dst.read("language_model.model.embed_tokens.weight").data as Float32Array;
    expect(after.subarray(0, before.length)).toEqual(before);
    const dim = 64;
    const mean = Array.from({ length: dim }, (_, j) => {
      let s = 0;
      for (let r = 0; r < 512; r++) s += before[r * dim + j];
      return s / 512;
    });
    for (const row of [512, 151665])
      for (let j = 0; j < dim; j++) expect(after[row * dim + j]).toBeCloseTo(mean[j], 6);
    src.close();
    dst.close();
  });

  it("copies the vision tower and the language model bit-exactly under HF llava names", () => {
    const vision = SafetensorsCheckpoint.open(fixturePath("hf/clip-vision"));
    const llm = SafetensorsCheckpoint.open(fixturePath("hf/qwen2"));
    const dst = SafetensorsCheckpoint.open(out);
    for (const k of vision.keys().filter((k) => k.startsWith("vision_model.")))
      expect(Buffer.from(dst.readRaw(`vision_tower.${k}`)).equals(Buffer.from(vision.readRaw(k))), k).toBe(
        true,
      );
    for (const k of llm.keys().filter((k) => k !== "model.embed_tokens.weight"))
      expect(Buffer.from(dst.readRaw(`language_model.${k}`)).equals(Buffer.from(llm.readRaw(k))), k).toBe(
        true,
      );
    expect(
      dst
        .keys()
        .filter((k) => k.startsWith("multi_modal_projector."))
        .sort(),
    ).toEqual([
      "multi_modal_projector.linear_1.bias",
      "multi_modal_projector.linear_1.weight",
      "multi_modal_projector.linear_2.bias",
      "multi_modal_projector.linear_2.weight",
    ]);
    vision.close();
    llm.close();
    dst.close();
  });

  it("writes the processor files and loads back as a LLaVA", () => {
    const files = readdirSync(out);
    for (const f of [
      "preprocessor_config.json",
      "processor_config.json",
      "chat_template.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "special_tokens_map.json",
    ])
      expect(files).toContain(f);
    const pre = JSON.parse(readFileSync(join(out, "preprocessor_config.json"), "utf8"));
    expect(pre).toMatchObject({
      crop_size: { height: 56, width: 56 },
      size: { shortest_edge: 56 },
      resample: 3,
    });
    const model = LlavaForConditionalGeneration.fromPretrained(out);
    expect(model.config.image_token_index).toBe(151665);
    expect(model.language_model.config.vocab_size).toBe(151666);
    model.dispose();
  });

  it("seeds the projector: same seed, same weights; another seed, other weights", async () => {
    const weights = async (seed: number) =>
      (await projectorEntries(64, 64, 0.02, seed)[0].read()) as Float32Array;
    const dst = SafetensorsCheckpoint.open(out);
    expect(dst.read("multi_modal_projector.linear_1.weight").data).toEqual(await weights(7));
    expect(await weights(8)).not.toEqual(await weights(7));
    expect(dst.read("multi_modal_projector.linear_2.bias").data).toEqual(new Float32Array(64));
    dst.close();
  });

  it("names a missing input folder", async () => {
    await expect(
      buildLlava({ vision: join(tmp, "nope"), llm: fixturePath("hf/qwen2"), out: join(tmp, "x") }),
    ).rejects.toThrow(/vision: no config\.json in .*nope/);
  });
});

describe("appendMeanRows", () => {
  it("keeps the old rows and fills new ones with the column means", () => {
    const t = Float32Array.from([1, 2, 3, 6]);
    expect(Array.from(appendMeanRows(t, 2, 2, 4))).toEqual([1, 2, 3, 6, 2, 4, 2, 4]);
  });
});
