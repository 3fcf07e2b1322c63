// "Build your own LLaVA from zero": a CLIP checkpoint + a Qwen2 checkpoint → an HF llava folder, with the
// tokenizer surgery, config, a seeded projector and the processor files. Weights stream tensor by tensor
// from the inputs to the output shards, so the two models are never in memory together.
import { parseClipVisionConfig } from "@llava-ts/clip";
import {
  ConfigError,
  type JsonObject,
  normalInit,
  Rng,
  readJsonFile,
  SafetensorsCheckpoint,
  type TensorEntry,
  type WrittenCheckpoint,
  writeSafetensorsCheckpoint,
} from "@llava-ts/core";
import { nodeBuiltin } from "@llava-ts/files";
import { parseQwen2Config } from "@llava-ts/qwen";
import { type EmbeddingResizePlan, Tokenizer } from "@llava-ts/tokenizer";
import { type CheckpointLayout, toCurrentKey } from "./checkpoint-layout.js";
import { parseLlavaConfig } from "./llava-config.js";
import { processorFiles } from "./processor-files.js";

export interface BuildLlavaOptions {
  /** A CLIP folder: vision-only (`clip_vision_model`) or full (`clip`, the text tower is dropped). */
  vision: string;
  /** A Qwen2 / Qwen2.5 causal-LM folder. */
  llm: string;
  out: string;
  /** Tokenizer folder; default the LLM's. */
  tokenizer?: string;
  /** Seed of the projector's initialisation. Default 0. */
  seed?: number;
  imageToken?: string;
  /** Default `<|endoftext|>`, Qwen2.5's padding token. */
  padToken?: string;
  visionFeatureLayer?: number;
  visionFeatureSelectStrategy?: "default" | "full";
  projectorHiddenAct?: string;
  maxShardSize?: number | string;
  /** Key layout of the weights: "legacy" (default) or transformers ≥ 4.52's "current". */
  layout?: CheckpointLayout;
  /** Called after each tensor is written. */
  onTensor?: (name: string, index: number, total: number) => void;
}

export interface BuildLlavaResult {
  imageTokenIndex: number;
  padTokenId: number;
  resize: EmbeddingResizePlan;
  config: JsonObject;
  checkpoint: WrittenCheckpoint;
}

const VISION_PREFIX = "vision_model.";

export async function buildLlava(options: BuildLlavaOptions): Promise<BuildLlavaResult> {
  const { existsSync, mkdirSync, readFileSync, writeFileSync } = nodeBuiltin("node:fs", "buildLlava");
  const { join } = nodeBuiltin("node:path", "buildLlava");
  const { vision, llm, out } = options;
  for (const [flag, dir] of [
    ["vision", vision],
    ["llm", llm],
  ] as const)
    if (!existsSync(join(dir, "config.json")))
      throw new ConfigError(`${flag}: no config.json in ${dir}`, flag);
  const visionFile = join(vision, "config.json");
  const visionRaw = readJsonFile(visionFile);
  const visionJson = (visionRaw.model_type === "clip" ? visionRaw.vision_config : visionRaw) as JsonObject;
  const visionConfig = parseClipVisionConfig({ ...visionJson, model_type: "clip_vision_model" }, visionFile);
  const llmFile = join(llm, "config.json");
  const textRaw = readJsonFile(llmFile);
  const textConfig = parseQwen2Config(textRaw, llmFile);

  // Tokenizer surgery: <image> becomes a special token (151665 in Qwen2.5), padding is <|endoftext|>.
  const tokenizer = await Tokenizer.fromPretrained(options.tokenizer ?? llm);
  const imageToken = options.imageToken ?? "<image>";
  const [imageTokenIndex] = tokenizer.addSpecialTokens([imageToken]);
  const padToken = options.padToken ?? "<|endoftext|>";
  tokenizer.padToken = padToken;
  const padTokenId = tokenizer.padTokenId!;
  const resize = tokenizer.planEmbeddingResize(textConfig.vocab_size);

  const strategy = options.visionFeatureSelectStrategy ?? "default";
  const patches = (visionConfig.image_size / visionConfig.patch_size) ** 2;
  const config: JsonObject = {
    architectures: ["LlavaForConditionalGeneration"],
    model_type: "llava",
    ignore_index: -100,
    image_token_index: imageTokenIndex,
    pad_token_id: padTokenId,
    image_seq_length: strategy === "default" ? patches : patches + 1,
    projector_hidden_act: options.projectorHiddenAct ?? "gelu",
    vision_feature_layer: options.visionFeatureLayer ?? -2,
    vision_feature_select_strategy: strategy,
    tie_word_embeddings: textConfig.tie_word_embeddings,
    text_config: { ...textRaw, vocab_size: resize.newRows },
    vision_config: { ...visionJson, model_type: "clip_vision_model" },
    torch_dtype: "float32",
  };
  const parsed = parseLlavaConfig(config, join(out, "config.json")); // the same checks as loading it later

  const visionCkpt = SafetensorsCheckpoint.open(vision);
  const llmCkpt = SafetensorsCheckpoint.open(llm);
  try {
    const entries: TensorEntry[] = [
      ...visionEntries(visionCkpt),
      ...projectorEntries(
        visionConfig.hidden_size,
        textConfig.hidden_size,
        textConfig.initializer_range,
        options.seed ?? 0,
      ),
      ...languageEntries(llmCkpt, textConfig.tie_word_embeddings, resize),
    ];
    mkdirSync(out, { recursive: true });
    let written = 0;
    const checkpoint = await writeSafetensorsCheckpoint(
      out,
      entries.map((e) => ({
        ...e,
        name: options.layout === "current" ? toCurrentKey(e.name) : e.name,
        read: async () => {
          const data = await e.read();
          options.onTensor?.(e.name, written++, entries.length);
          return data;
        },
      })),
      { maxShardSize: options.maxShardSize ?? "5GB" },
    );
    writeFileSync(join(out, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
    await tokenizer.save(out);
    for (const [name, json] of Object.entries(processorFiles(vision, parsed, imageToken, tokenizer)))
      writeFileSync(join(out, name), `${JSON.stringify(json, null, 2)}\n`);
    const generation = join(llm, "generation_config.json");
    if (existsSync(generation)) writeFileSync(join(out, "generation_config.json"), readFileSync(generation));
    return { imageTokenIndex, padTokenId, resize, config, checkpoint };
  } finally {
    visionCkpt.close();
    llmCkpt.close();
  }
}

/** `vision_model.*` → `vision_tower.vision_model.*`, raw bytes in the stored dtype; the text tower is dropped. */
function visionEntries(ckpt: SafetensorsCheckpoint): TensorEntry[] {
  const prefix = ckpt.keys().some((k) => k.startsWith(VISION_PREFIX)) ? "" : "vision_tower.";
  return ckpt
    .keys()
    .filter((k) => k.startsWith(prefix + VISION_PREFIX) && !k.endsWith("position_ids"))
    .map((k) => {
      const info = ckpt.info(k);
      return {
        name: `vision_tower.${k.slice(prefix.length)}`,
        dtype: info.dtype,
        shape: info.shape,
        read: () => ckpt.readRaw(k),
      };
    });
}

/** linear_1 [E, Dv], linear_2 [E, E] ~ N(0, initializer_range²), biases 0, as LLaVA's _init_weights. */
export function projectorEntries(
  visionHidden: number,
  textHidden: number,
  std: number,
  seed: number,
): TensorEntry[] {
  const init = normalInit(std, new Rng(seed));
  const tensor = (name: string, shape: number[], fill: () => Float32Array): TensorEntry => ({
    name: `multi_modal_projector.${name}`,
    dtype: "F32",
    shape,
    read: fill,
  });
  return [
    tensor("linear_1.weight", [textHidden, visionHidden], () => init([textHidden, visionHidden])),
    tensor("linear_1.bias", [textHidden], () => new Float32Array(textHidden)),
    tensor("linear_2.weight", [textHidden, textHidden], () => init([textHidden, textHidden])),
    tensor("linear_2.bias", [textHidden], () => new Float32Array(textHidden)),
  ];
}

/** `model.*` / `lm_head.*` → `language_model.*`; embedding rows grow (mean-initialised) only if needed. */
function languageEntries(
  ckpt: SafetensorsCheckpoint,
  tied: boolean,
  resize: EmbeddingResizePlan,
): TensorEntry[] {
  return ckpt
    .keys()
    .filter((k) => !(tied && k === "lm_head.weight") && !k.endsWith("rotary_emb.inv_freq"))
    .map((k) => {
      const info = ckpt.info(k);
      const name = `language_model.${k}`;
      const grows = resize.needed && (k === "model.embed_tokens.weight" || k === "lm_head.weight");
      if (!grows) return { name, dtype: info.dtype, shape: info.shape, read: () => ckpt.readRaw(k) };
      const [rows, dim] = info.shape;
      return {
        name,
        dtype: info.dtype,
        shape: [resize.newRows, dim],
        read: () => appendMeanRows(ckpt.read(k).data as Float32Array, rows, dim, resize.newRows),
      };
    });
}

/** New rows start at the mean of the existing ones, as transformers' resize_token_embeddings(mean_resizing). */
export function appendMeanRows(
  table: Float32Array,
  rows: number,
  dim: number,
  newRows: number,
): Float32Array {
  const out = new Float32Array(newRows * dim);
  out.set(table);
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) mean[j] += table[r * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= rows;
  for (let r = rows; r < newRows; r++) for (let j = 0; j < dim; j++) out[r * dim + j] = mean[j];
  return out;
}
