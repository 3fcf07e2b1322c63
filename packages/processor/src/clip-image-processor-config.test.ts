import { readFileSync } from "node:fs";
import { ConfigError } from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import { describe, expect, it } from "vitest";
import { parseClipImageProcessorConfig } from "./clip-image-processor-config.js";

const CLIP_336 = fixturePath("configs/clip-vit-large-patch14-336/preprocessor_config.json");

describe("parseClipImageProcessorConfig", () => {
  it("reads clip-vit-large-patch14-336's config", () => {
    const c = parseClipImageProcessorConfig(JSON.parse(readFileSync(CLIP_336, "utf8")));
    expect(c.size).toEqual({ shortest_edge: 336 });
    expect(c.crop_size).toEqual({ height: 336, width: 336 });
    expect(c.resample).toBe(3);
    expect(c.rescale_factor).toBeCloseTo(1 / 255, 15);
    expect(c.image_std).toEqual([0.26862954, 0.26130258, 0.27577711]);
  });

  it("fills CLIPImageProcessor's defaults and ignores unknown keys", () => {
    const c = parseClipImageProcessorConfig({
      image_processor_type: "CLIPImageProcessor",
      foo: 1,
      size: null,
    });
    expect(c).toMatchObject({
      do_resize: true,
      size: { shortest_edge: 224 },
      crop_size: { height: 224, width: 224 },
      do_center_crop: true,
      do_normalize: true,
      image_mean: [0.48145466, 0.4578275, 0.40821073],
    });
  });

  it("accepts legacy ints and {height, width}, and broadcasts a single mean/std", () => {
    const c = parseClipImageProcessorConfig({ size: 256, crop_size: 224, image_mean: 0.5, image_std: 0.5 });
    expect(c.size).toEqual({ shortest_edge: 256 });
    expect(c.crop_size).toEqual({ height: 224, width: 224 });
    expect(c.image_mean).toEqual([0.5, 0.5, 0.5]);
    expect(parseClipImageProcessorConfig({ size: { height: 32, width: 48 } }).size).toEqual({
      height: 32,
      width: 48,
    });
  });

  it.each([
    [{ do_resize: "yes" }, "do_resize", '"yes"'],
    [{ size: { shortest_edge: -1 } }, "size", '{"shortest_edge":-1}'],
    [{ size: { height: 10 } }, "size", '{"height":10}'],
    [{ crop_size: { height: 0, width: 3 } }, "crop_size", '{"height":0,"width":3}'],
    [{ resample: 7 }, "resample", "7"],
    [{ resample: 0 }, "resample", "NEAREST"],
    [{ rescale_factor: 0 }, "rescale_factor", "0"],
    [{ image_mean: [0.5, 0.5] }, "image_mean", "[0.5,0.5]"],
    [{ image_std: [1, 0, 1] }, "image_std", "[1,0,1]"],
  ])("rejects %j naming the key and the value", (json, key, shown) => {
    const err = (() => {
      try {
        parseClipImageProcessorConfig(json, "x/preprocessor_config.json");
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.key).toBe(key);
    expect(err.message).toContain(`"${key}"`);
    expect(err.message).toContain(shown);
    expect(err.message).toContain("x/preprocessor_config.json");
  });

  it("rejects a non-object", () => {
    expect(() => parseClipImageProcessorConfig([1])).toThrow(ConfigError);
  });
});
