// The processor files a built LLaVA needs beside its weights (the tutorial copies them by hand):
// preprocessor_config.json for the CLIP image processor, processor_config.json and chat_template.json.
import { type JsonObject, readJsonFile } from "@llava-ts/core";
import { nodeBuiltin } from "@llava-ts/files";
import type { Tokenizer } from "@llava-ts/tokenizer";
import type { LlavaConfig } from "./llava-config.js";

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** The CLIP folder's preprocessor config in transformers' current form, or CLIP's defaults at its image size. */
function preprocessorConfig(visionDir: string, imageSize: number): JsonObject {
  const file = nodeBuiltin("node:path", "buildLlava").join(visionDir, "preprocessor_config.json");
  const src: JsonObject = nodeBuiltin("node:fs", "buildLlava").existsSync(file) ? readJsonFile(file) : {};
  const size = src.size ?? imageSize;
  const crop = src.crop_size ?? imageSize;
  return {
    crop_size: typeof crop === "number" ? { height: crop, width: crop } : crop,
    do_center_crop: src.do_center_crop ?? true,
    do_convert_rgb: src.do_convert_rgb ?? true,
    do_normalize: src.do_normalize ?? true,
    do_rescale: src.do_rescale ?? true,
    do_resize: src.do_resize ?? true,
    image_mean: src.image_mean ?? CLIP_MEAN,
    image_processor_type: "CLIPImageProcessor",
    image_std: src.image_std ?? CLIP_STD,
    processor_class: "LlavaProcessor",
    resample: src.resample ?? 3,
    rescale_factor: src.rescale_factor ?? 1 / 255,
    size: typeof size === "number" ? { shortest_edge: size } : size,
  };
}

export function processorFiles(
  visionDir: string,
  config: LlavaConfig,
  imageToken: string,
  tokenizer: Tokenizer,
): Record<string, JsonObject> {
  const files: Record<string, JsonObject> = {
    "preprocessor_config.json": preprocessorConfig(visionDir, config.vision_config.image_size),
    "processor_config.json": {
      image_token: imageToken,
      num_additional_image_tokens: 1,
      patch_size: config.vision_config.patch_size,
      processor_class: "LlavaProcessor",
      vision_feature_select_strategy: config.vision_feature_select_strategy,
    },
  };
  const template = tokenizer.getChatTemplate();
  if (typeof template === "string") files["chat_template.json"] = { chat_template: template };
  return files;
}
