// Random tiny CLIP and Qwen2.5 checkpoints in the layouts the Hub uses (config.json + model.safetensors,
// HF key names, the real Qwen2.5 tokenizer beside the LLM), so the demo builds its LLaVA exactly as the
// real clip-vit-large-patch14-336 + Qwen2.5-3B-Instruct pair is built.
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ClipVisionModel, parseClipVisionConfig } from "@llava-ts/clip";
import { type JsonObject, saveSafetensorsWeights } from "@llava-ts/core";
import { parseQwen2Config, Qwen2ForCausalLM } from "@llava-ts/qwen";
import * as tf from "@tensorflow/tfjs-core";
import { qwenTokenizerDir } from "../assets.js";

export interface TinySizes {
  /** Image side in pixels (a multiple of the patch size). */
  imageSize: number;
  patchSize: number;
  visionHidden: number;
  visionLayers: number;
  textHidden: number;
  textLayers: number;
  textIntermediate: number;
  /**
   * Std of the random weights (config initializer_range, also the projector's in buildLlava). The Hub's
   * 0.02 suits widths of thousands (≈ 1/√E); a 64-wide model needs ≈ 1/√64, or the projector's output is
   * so small that Adam's first bias steps drown the image in a constant.
   */
  initializerRange: number;
  /**
   * Std of the (tied) token embedding; default initializerRange. The demo keeps these rows frozen as the
   * output layer, so they need a norm that lets one row win a softmax over 151,936 (≈ 0.5 at width 64).
   */
  embeddingStd?: number;
}

/** CLIP's normalisation (openai/clip-vit-*), as in their preprocessor_config.json. */
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

export function tinyClipConfig(s: TinySizes): JsonObject {
  return {
    architectures: ["CLIPVisionModel"],
    model_type: "clip_vision_model",
    hidden_size: s.visionHidden,
    intermediate_size: 2 * s.visionHidden,
    projection_dim: s.visionHidden,
    num_hidden_layers: s.visionLayers,
    num_attention_heads: 4,
    num_channels: 3,
    image_size: s.imageSize,
    patch_size: s.patchSize,
    hidden_act: "quick_gelu",
    layer_norm_eps: 1e-5,
    initializer_range: s.initializerRange,
    initializer_factor: 1,
    torch_dtype: "float32",
  };
}

/** Qwen2.5's architecture at a tiny width, keeping its real 151,936-row vocabulary and tied embeddings. */
export function tinyQwenConfig(s: TinySizes): JsonObject {
  return {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    vocab_size: 151936,
    hidden_size: s.textHidden,
    intermediate_size: s.textIntermediate,
    num_hidden_layers: s.textLayers,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    hidden_act: "silu",
    max_position_embeddings: 1024,
    initializer_range: s.initializerRange,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    tie_word_embeddings: true,
    bos_token_id: 151643,
    eos_token_id: 151645,
    torch_dtype: "float32",
  };
}

/** A CLIP vision checkpoint (config, preprocessor_config, random weights) in `dir`. */
export async function writeTinyClip(dir: string, s: TinySizes, seed: number): Promise<void> {
  const json = tinyClipConfig(s);
  const model = new ClipVisionModel(parseClipVisionConfig(json), { seed });
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), `${JSON.stringify(json, null, 2)}\n`);
    writeFileSync(
      join(dir, "preprocessor_config.json"),
      `${JSON.stringify(
        {
          crop_size: { height: s.imageSize, width: s.imageSize },
          do_center_crop: true,
          do_convert_rgb: true,
          do_normalize: true,
          do_rescale: true,
          do_resize: true,
          image_mean: CLIP_MEAN,
          image_processor_type: "CLIPImageProcessor",
          image_std: CLIP_STD,
          resample: 3,
          rescale_factor: 1 / 255,
          size: { shortest_edge: s.imageSize },
        },
        null,
        2,
      )}\n`,
    );
    await saveSafetensorsWeights(model, dir);
  } finally {
    model.dispose();
  }
}

/** A Qwen2 causal-LM checkpoint with random weights and the bundled Qwen2.5 tokenizer in `dir`. */
export async function writeTinyQwen(dir: string, s: TinySizes, seed: number): Promise<void> {
  const model = new Qwen2ForCausalLM(parseQwen2Config(tinyQwenConfig(s)), { seed });
  try {
    if (s.embeddingStd !== undefined) {
      const w = model.model.embed_tokens.variable("weight");
      w.assign(tf.tidy(() => w.mul(s.embeddingStd! / s.initializerRange)));
    }
    await model.savePretrained(dir);
  } finally {
    model.dispose();
  }
  const tokenizer = qwenTokenizerDir();
  for (const f of readdirSync(tokenizer)) copyFileSync(join(tokenizer, f), join(dir, f));
  writeFileSync(
    join(dir, "generation_config.json"),
    `${JSON.stringify({ bos_token_id: 151643, eos_token_id: [151645, 151643], pad_token_id: 151643 }, null, 2)}\n`,
  );
}
