// The bench model of ../shared/bench (a copy of its bench-model.json sits beside this file): a LLaVA
// with random seeded weights, and the seeded training batch / generation prompt every figure uses.
import { readFileSync } from "node:fs";
import { Rng } from "@llava-ts/core";
import { LlavaForConditionalGeneration, parseLlavaConfig } from "@llava-ts/llava";

export const SPEC = JSON.parse(readFileSync(new URL("./bench-model.json", import.meta.url), "utf8"));

/** Qwen2.5's `<image>` id after the tokenizer surgery (DESIGN.md), and `<|endoftext|>` as padding. */
export const IMAGE_TOKEN = 151665;
export const PAD_TOKEN = 151643;

export function benchConfig() {
  return parseLlavaConfig({
    model_type: "llava",
    vision_config: { ...SPEC.vision_config, model_type: "clip_vision_model" },
    text_config: { ...SPEC.text_config, model_type: "qwen2" },
    image_token_index: IMAGE_TOKEN,
    pad_token_id: PAD_TOKEN,
    vision_feature_layer: -2,
    vision_feature_select_strategy: "default",
    projector_hidden_act: "gelu",
  });
}

export function buildBenchModel(seed = 0) {
  return new LlavaForConditionalGeneration(benchConfig(), { seed });
}

/** Image tokens per sample: (image_size / patch_size)². */
export function imageTokens() {
  const v = SPEC.vision_config;
  return (v.image_size / v.patch_size) ** 2;
}

/** `rows` samples of [64 image tokens, text tokens], the last `answer_tokens` labelled; seeded. */
export function benchBatch(rows = SPEC.batch.size, seed = 1) {
  const rng = new Rng(seed);
  const L = imageTokens();
  const T = L + SPEC.batch.text_tokens;
  const A = SPEC.batch.answer_tokens;
  const inputIds = new Int32Array(rows * T);
  const labels = new Int32Array(rows * T).fill(-100);
  for (let b = 0; b < rows; b++)
    for (let t = 0; t < T; t++) {
      const id = t < L ? IMAGE_TOKEN : rng.int(151643); // ordinary words only
      inputIds[b * T + t] = id;
      if (t >= T - A) labels[b * T + t] = id;
    }
  const S = SPEC.vision_config.image_size;
  const pixelValues = Float32Array.from({ length: rows * 3 * S * S }, () => rng.normal());
  return {
    // A collated LlavaBatch (@llava-ts/datasets' type): record indices, none skipped or truncated.
    indices: Array.from({ length: rows }, (_, i) => i),
    skipped: [],
    truncated: [],
    batchSize: rows,
    seqLength: T,
    inputIds,
    attentionMask: new Int32Array(rows * T).fill(1),
    labels,
    pixelValues,
    pixelShape: [rows, 3, S, S],
  };
}

export const LORA = {
  r: 16,
  lora_alpha: 32,
  lora_dropout: 0,
  target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
  modules_to_save: ["multi_modal_projector"],
};
