// LlavaConfig as transformers 4.46's configuration_llava.py: a vision_config, a text_config and the keys
// that tie them together. Unknown keys are ignored; inconsistent ones are rejected with the key named.

import { type ClipVisionConfig, numPatches, parseClipVisionConfig } from "@llava-ts/clip";
import {
  ACTIVATION_NAMES,
  ConfigError,
  ConfigReader,
  type JsonObject,
  readFolderJson,
  readJsonFile,
} from "@llava-ts/core";
import { type ModelFolder, nodeBuiltin } from "@llava-ts/files";
import { parseQwen2Config, type Qwen2Config } from "@llava-ts/qwen";

export type FeatureSelectStrategy = "default" | "full";

export interface LlavaConfig {
  readonly model_type: "llava";
  readonly vision_config: ClipVisionConfig;
  readonly text_config: Qwen2Config;
  readonly image_token_index: number;
  readonly pad_token_id?: number;
  readonly ignore_index: number;
  /** Image tokens per image: patches, plus the CLS token with strategy "full". */
  readonly image_seq_length: number;
  readonly vision_feature_layer: number;
  readonly vision_feature_select_strategy: FeatureSelectStrategy;
  readonly projector_hidden_act: string;
  /** The JSON as read, so unknown keys survive a save. */
  readonly raw: JsonObject;
}

export function parseLlavaConfig(json: JsonObject, file?: string): LlavaConfig {
  const r = new ConfigReader(json, file);
  const type = r.string("model_type", "llava");
  if (type !== "llava")
    throw new ConfigError(`model_type: expected "llava", found "${type}"`, "model_type", file);
  // transformers picks the vision tower's class from vision_config.model_type (default clip_vision_model);
  // only CLIP is implemented here, so another tower (SigLIP, …) must not be read as CLIP.
  const visionJson = r.object("vision_config").json;
  const visionType = visionJson.model_type ?? "clip_vision_model";
  if (visionType !== "clip_vision_model")
    throw new ConfigError(
      `vision_config.model_type: only "clip_vision_model" vision towers are supported, found ${JSON.stringify(visionType)}`,
      "vision_config.model_type",
      file,
    );
  const vision = parseClipVisionConfig(json, file); // reads vision_config, naming its keys so
  const textJson = r.object("text_config").json;
  const textType = textJson.model_type ?? "qwen2";
  if (textType !== "qwen2")
    throw new ConfigError(
      `text_config.model_type: only "qwen2" decoders are supported, found "${textType}"`,
      "text_config.model_type",
      file,
    );
  const text = parseQwen2Config(textJson, file, "text_config.");
  const strategy = r.string("vision_feature_select_strategy", "default");
  if (strategy !== "default" && strategy !== "full")
    throw new ConfigError(
      `vision_feature_select_strategy: expected "default" or "full", found "${strategy}"`,
      "vision_feature_select_strategy",
      file,
    );
  const layers = vision.num_hidden_layers;
  const featureLayer = r.number("vision_feature_layer", -2);
  if (!Number.isInteger(featureLayer) || featureLayer < -(layers + 1) || featureLayer > layers)
    throw new ConfigError(
      `vision_feature_layer: ${featureLayer} is not a hidden state of a ${layers}-layer vision tower`,
      "vision_feature_layer",
      file,
    );
  const patches = numPatches(vision);
  const expectedSeq = strategy === "default" ? patches : patches + 1;
  const imageSeq = r.positiveInt("image_seq_length", expectedSeq);
  if (imageSeq !== expectedSeq)
    throw new ConfigError(
      `image_seq_length: ${imageSeq}, but the vision tower gives ${expectedSeq} features per image (strategy "${strategy}")`,
      "image_seq_length",
      file,
    );
  const imageToken = r.number("image_token_index", 32000);
  if (!Number.isInteger(imageToken) || imageToken < 0 || imageToken >= text.vocab_size)
    throw new ConfigError(
      `image_token_index: ${imageToken} is outside the vocabulary (text_config.vocab_size = ${text.vocab_size})`,
      "image_token_index",
      file,
    );
  return Object.freeze({
    model_type: "llava",
    vision_config: vision,
    text_config: text,
    image_token_index: imageToken,
    pad_token_id: r.tokenId("pad_token_id", text.vocab_size),
    ignore_index: r.number("ignore_index", -100),
    image_seq_length: imageSeq,
    vision_feature_layer: featureLayer,
    vision_feature_select_strategy: strategy,
    projector_hidden_act: r.oneOf("projector_hidden_act", ACTIVATION_NAMES, "gelu"),
    raw: json,
  });
}

export function readLlavaConfig(dir: string): LlavaConfig {
  const file = nodeBuiltin("node:path", `reading ${dir}`).join(dir, "config.json");
  return parseLlavaConfig(readJsonFile(file), file);
}

/** config.json of a folder at a URL or in memory. */
export async function fetchLlavaConfig(folder: ModelFolder): Promise<LlavaConfig> {
  return parseLlavaConfig(await readFolderJson(folder, "config.json"), folder.describe("config.json"));
}

/**
 * How images are fitted to the vision tower: "pad" when config.json's image_aspect_ratio says so (LLaVA-1.5's
 * key: pad to a square with the mean colour first), else "crop" (CLIPImageProcessor as is).
 */
export function llavaImageMode(config: LlavaConfig): "crop" | "pad" {
  return config.raw.image_aspect_ratio === "pad" ? "pad" : "crop";
}
