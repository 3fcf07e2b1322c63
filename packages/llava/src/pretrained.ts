// The HF llava folder layout: config.json, weights (sharded past a size limit, with the index) and, when
// present, the tokenizer and processor files that travel with the model.
import {
  type AsyncFolderSource,
  emptyWeights,
  LlavaError,
  loadFolderWeights,
  loadSafetensorsWeights,
  localPath,
  type PretrainedOptions,
  resolveOffload,
  saveSafetensorsWeights,
  toModelFolder,
  type WrittenCheckpoint,
} from "@llava-ts/core";
import { nodeBuiltin } from "@llava-ts/files";
import { type CheckpointLayout, toCurrentKey, toLegacyKey } from "./checkpoint-layout.js";
import { fetchLlavaConfig, type LlavaConfig, readLlavaConfig } from "./llava-config.js";
import { LlavaForConditionalGeneration } from "./llava-model.js";

/** Checkpoint keys that are not parameters here: a tied lm_head saved anyway, rotary and position buffers. */
function dropBuffers(config: LlavaConfig): (key: string) => string | undefined {
  return (checkpointKey) => {
    const key = toLegacyKey(checkpointKey); // transformers ≥ 4.52's layout too
    if (config.text_config.tie_word_embeddings && key === "language_model.lm_head.weight") return undefined;
    if (key.endsWith("rotary_emb.inv_freq") || key.endsWith("embeddings.position_ids")) return undefined;
    return key;
  };
}

/**
 * Loads `<dir>/config.json` and every weight, strictly (a missing or wrong-shaped tensor is an error), into
 * the heap or — `offload`, automatic past half the heap budget — left in the checkpoint.
 */
export function loadLlava(dir: string, options: PretrainedOptions = {}): LlavaForConditionalGeneration {
  const config = readLlavaConfig(localPath(dir, "LlavaForConditionalGeneration.fromPretrained"));
  const model = emptyWeights(() => new LlavaForConditionalGeneration(config, { init: "zeros" }));
  try {
    loadSafetensorsWeights(model, dir, {
      strict: true,
      rename: dropBuffers(config),
      offload: resolveOffload(options.offload, model.numParameters()),
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * loadLlava from a URL (range requests: headers, then each tensor), a ModelFolder or files in memory. Each
 * tensor's fetched bytes are dropped once it is in the heap; offloaded weights stay in page memory.
 */
export async function fetchLlava(
  source: AsyncFolderSource,
  options: PretrainedOptions = {},
): Promise<LlavaForConditionalGeneration> {
  const folder = toModelFolder(source);
  const config = await fetchLlavaConfig(folder);
  const model = emptyWeights(() => new LlavaForConditionalGeneration(config, { init: "zeros" }));
  try {
    await loadFolderWeights(model, folder, {
      strict: true,
      rename: dropBuffers(config),
      offload: resolveOffload(options.offload, model.numParameters()),
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Storage dtypes by their torch names (config.json's torch_dtype) and short names. */
const DTYPES = {
  float32: "F32",
  f32: "F32",
  bfloat16: "BF16",
  bf16: "BF16",
  float16: "F16",
  f16: "F16",
} as const;

export type SaveDtype = keyof typeof DTYPES;

export interface SaveLlavaOptions {
  /** Shard limit in bytes or "5GB" (transformers' default). */
  maxShardSize?: number | string;
  /**
   * Storage dtype of every weight ("bf16" makes a merged 3B 6.8 GB instead of 13.6). Default: each frozen
   * weight in the dtype it was loaded in (the base checkpoint's, as save_pretrained keeps torch_dtype),
   * trained and new ones in float32. A given dtype is also written as config.json's torch_dtype.
   */
  dtype?: SaveDtype;
  /** Key layout: "legacy" (default; every transformers release loads it) or transformers ≥ 4.52's "current". */
  layout?: CheckpointLayout;
}

/** Writes config.json and the weights in transformers' layout. */
export async function saveLlava(
  model: LlavaForConditionalGeneration,
  dir: string,
  options: SaveLlavaOptions = {},
): Promise<WrittenCheckpoint> {
  const dtype = options.dtype === undefined ? undefined : DTYPES[options.dtype];
  if (options.dtype !== undefined && !dtype)
    throw new LlavaError(
      `savePretrained: dtype "${options.dtype}" is not one of ${Object.keys(DTYPES).join(", ")}`,
    );
  const { mkdirSync, writeFileSync } = nodeBuiltin("node:fs", `saving to ${dir}`);
  const { join } = nodeBuiltin("node:path", `saving to ${dir}`);
  mkdirSync(dir, { recursive: true });
  const raw = { ...model.config.raw } as Record<string, unknown>;
  if (dtype) raw.torch_dtype = TORCH_NAME[dtype];
  writeFileSync(join(dir, "config.json"), `${JSON.stringify(raw, null, 2)}\n`);
  return saveSafetensorsWeights(model, dir, {
    maxShardSize: options.maxShardSize ?? "5GB",
    dtype,
    ...(options.layout === "current" ? { rename: toCurrentKey } : {}),
  });
}

const TORCH_NAME = { F32: "float32", BF16: "bfloat16", F16: "float16" } as const;
