import { ConfigError, readJsonFile } from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import { describe, expect, it } from "vitest";
import { numPatches, parseClipVisionConfig } from "./clip-vision-config.js";

describe("parseClipVisionConfig", () => {
  it("reads a vision-only config (hf/clip-vision)", () => {
    const c = parseClipVisionConfig(readJsonFile(fixturePath("hf/clip-vision/config.json")));
    expect(c).toMatchObject({
      hidden_size: 64,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      image_size: 56,
    });
    expect(c).toMatchObject({ patch_size: 14, hidden_act: "quick_gelu", intermediate_size: 128 });
    expect(numPatches(c)).toBe(16);
  });

  it("takes vision_config from a full CLIP config (clip-vit-large-patch14-336)", () => {
    const c = parseClipVisionConfig(
      readJsonFile(fixturePath("configs/clip-vit-large-patch14-336/config.json")),
    );
    expect(c).toMatchObject({ hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24 });
    expect(c).toMatchObject({
      num_attention_heads: 16,
      image_size: 336,
      patch_size: 14,
      projection_dim: 768,
    });
    expect(numPatches(c)).toBe(576);
  });

  it("takes vision_config from a LLaVA config", () => {
    const c = parseClipVisionConfig(readJsonFile(fixturePath("hf/llava/config.json")));
    expect(c).toMatchObject({ hidden_size: 64, num_hidden_layers: 3, image_size: 56 });
  });

  it("fills transformers' CLIPVisionConfig defaults", () => {
    expect(parseClipVisionConfig({ model_type: "clip_vision_model" })).toEqual({
      hidden_size: 768,
      intermediate_size: 3072,
      projection_dim: 512,
      num_hidden_layers: 12,
      num_attention_heads: 12,
      num_channels: 3,
      image_size: 224,
      patch_size: 32,
      hidden_act: "quick_gelu",
      layer_norm_eps: 1e-5,
      attention_dropout: 0,
      initializer_range: 0.02,
      initializer_factor: 1,
    });
    expect(parseClipVisionConfig({ model_type: "clip" }).hidden_size).toBe(768);
  });

  it("rejects a hidden size that does not divide by the head count, naming keys and values", () => {
    const bad = () =>
      parseClipVisionConfig({ model_type: "clip_vision_model", hidden_size: 64, num_attention_heads: 5 });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/hidden_size: 64 is not divisible by num_attention_heads = 5/);
    const nested = () =>
      parseClipVisionConfig({
        model_type: "clip",
        vision_config: { hidden_size: 30, num_attention_heads: 4 },
      });
    expect(nested).toThrow(/vision_config\.hidden_size: 30 is not divisible by num_attention_heads = 4/);
  });

  it("rejects other model types and bad values", () => {
    expect(() => parseClipVisionConfig({ model_type: "siglip_vision_model" })).toThrow(
      /model_type.*siglip_vision_model/,
    );
    expect(() => parseClipVisionConfig({ patch_size: 0 })).toThrow(
      /patch_size: expected a positive integer, found 0/,
    );
    expect(() => parseClipVisionConfig({ image_size: 50, patch_size: 14 })).toThrow(
      /image_size: 50 is not divisible by patch_size = 14/,
    );
  });
});
