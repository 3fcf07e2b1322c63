// CLIPVisionConfig (transformers/models/clip/configuration_clip.py): HF's keys and defaults.
import { ACTIVATION_NAMES, ConfigError, ConfigReader, type JsonObject } from "@llava-ts/core";

/** The fields of a `clip_vision_model` config.json that the vision tower uses. */
export interface ClipVisionConfig {
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly projection_dim: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly num_channels: number;
  readonly image_size: number;
  readonly patch_size: number;
  readonly hidden_act: string;
  readonly layer_norm_eps: number;
  readonly attention_dropout: number;
  readonly initializer_range: number;
  readonly initializer_factor: number;
}

/** model_type values whose config holds the vision settings in `vision_config`. */
const NESTED_TYPES = new Set(["clip", "llava"]);

/**
 * Reads a vision-only config (`model_type: "clip_vision_model"`), or the `vision_config` of a full CLIP
 * (`"clip"`) or LLaVA (`"llava"`) config, filling transformers' CLIPVisionConfig defaults.
 */
export function parseClipVisionConfig(json: JsonObject, file?: string): ClipVisionConfig {
  const top = new ConfigReader(json, file);
  const modelType = top.has("model_type") ? top.string("model_type") : "clip_vision_model";
  let r: ConfigReader;
  if (NESTED_TYPES.has(modelType)) {
    // HF builds a default CLIPVisionConfig when a full CLIP config has no vision_config.
    r = top.has("vision_config") ? top.object("vision_config") : new ConfigReader({}, file, "vision_config.");
  } else if (modelType === "clip_vision_model") {
    r = top;
  } else {
    throw new ConfigError(
      `model_type: expected "clip_vision_model", "clip" or "llava", found ${JSON.stringify(modelType)}`,
      "model_type",
      file,
    );
  }
  const config: ClipVisionConfig = {
    hidden_size: r.positiveInt("hidden_size", 768),
    intermediate_size: r.positiveInt("intermediate_size", 3072),
    projection_dim: r.positiveInt("projection_dim", 512),
    num_hidden_layers: r.positiveInt("num_hidden_layers", 12),
    num_attention_heads: r.positiveInt("num_attention_heads", 12),
    num_channels: r.positiveInt("num_channels", 3),
    image_size: r.positiveInt("image_size", 224),
    patch_size: r.positiveInt("patch_size", 32),
    hidden_act: r.oneOf("hidden_act", ACTIVATION_NAMES, "quick_gelu"),
    layer_norm_eps: r.positive("layer_norm_eps", 1e-5),
    attention_dropout: r.inRange("attention_dropout", 0, 1, 0),
    initializer_range: r.number("initializer_range", 0.02),
    initializer_factor: r.number("initializer_factor", 1),
  };
  r.divisible("hidden_size", config.hidden_size, "num_attention_heads", config.num_attention_heads);
  r.divisible("image_size", config.image_size, "patch_size", config.patch_size);
  return config;
}

/** Patches per image side and in all; the sequence is one longer (the class token). */
export function numPatches(config: ClipVisionConfig): number {
  return (config.image_size / config.patch_size) ** 2;
}
