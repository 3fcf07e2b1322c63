// Fault suite (issue 19, classes 7 and 8): config.json values that used to load and then give NaNs, die in
// a kernel or silently build the wrong model are refused when the config is read, naming key and file.
import { readFileSync } from "node:fs";
import { ConfigError } from "@llava-ts/core";
import { fixturePath } from "@llava-ts/core/testing";
import { describe, expect, it } from "vitest";
import { parseLlavaConfig } from "./llava-config.js";

const FILE = fixturePath("hf/llava/config.json");
const base = () => JSON.parse(readFileSync(FILE, "utf8"));

/** The fixture's config with one change, parsed; the ConfigError it throws (or undefined). */
function parseWith(change: (c: Record<string, any>) => void): ConfigError | undefined {
  const json = base();
  change(json);
  try {
    parseLlavaConfig(json, FILE);
  } catch (e) {
    return e as ConfigError;
  }
  return undefined;
}

describe("LLaVA config validation at the edge", () => {
  it("the fixture itself parses", () => {
    expect(parseWith(() => {})).toBeUndefined();
  });

  it.each([
    ["rms_norm_eps", -1, "rms_norm_eps: expected a number > 0, found -1"],
    ["rms_norm_eps", 0, "rms_norm_eps: expected a number > 0, found 0"],
    ["rope_theta", 0, "rope_theta: expected a number > 0, found 0"],
    ["attention_dropout", 1.5, "attention_dropout: expected a number from 0 to 1, found 1.5"],
    ["hidden_act", "swiglu", 'hidden_act: unknown value "swiglu"; known: gelu, quick_gelu'],
    ["eos_token_id", [5, 600], "eos_token_id: 600 is not a token id: expected an integer from 0 to 511"],
    [
      "vocab_size",
      1e15,
      "vocab_size: 1000000000000000 × hidden_size 64 = 64000000000000000 embedding values",
    ],
  ])("text_config.%s = %j is refused", (key, value, message) => {
    const err = parseWith((c) => {
      c.text_config[key] = value;
    });
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toContain(`${FILE}: text_config.${message}`);
  });

  it.each([
    [0.5, "pad_token_id: 0.5 is not a token id: expected an integer from 0 to 511 (vocab_size 512)"],
    [1e12, "pad_token_id: 1000000000000 is not a token id"],
    [-1, "pad_token_id: -1 is not a token id"],
  ])("pad_token_id %j is refused", (value, message) => {
    expect(parseWith((c) => (c.pad_token_id = value))?.message).toContain(message);
  });

  it("vision settings: eps, activation, and a tower that is not CLIP", () => {
    expect(parseWith((c) => (c.vision_config.layer_norm_eps = -1e-5))?.message).toContain(
      "vision_config.layer_norm_eps: expected a number > 0, found -0.00001",
    );
    expect(parseWith((c) => (c.vision_config.hidden_act = "gelu_fast"))?.message).toContain(
      'vision_config.hidden_act: unknown value "gelu_fast"',
    );
    expect(parseWith((c) => (c.vision_config.model_type = "siglip_vision_model"))?.message).toContain(
      'vision_config.model_type: only "clip_vision_model" vision towers are supported, found "siglip_vision_model"',
    );
    expect(parseWith((c) => (c.projector_hidden_act = "mish"))?.message).toContain(
      'projector_hidden_act: unknown value "mish"',
    );
  });
});
