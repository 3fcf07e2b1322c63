// Checkpoint I/O in one place, so it can move to core's loadSafetensorsWeights without touching the model.
import {
  type LoadWeightsOptions,
  loadFolderWeights,
  loadSafetensorsWeights,
  type Module,
  saveSafetensorsWeights,
} from "@llava-ts/core";
import { type ModelFolder, nodeBuiltin } from "@llava-ts/files";
import { type Qwen2Config, qwen2ConfigToJson } from "./config.js";

/**
 * Keys a transformers checkpoint may hold that are not parameters here: a tied lm_head written anyway,
 * and rotary inv_freq buffers of older exports. Everything else must match exactly.
 */
export function ignoredQwen2Key(config: Qwen2Config, key: string): boolean {
  return (config.tie_word_embeddings && key === "lm_head.weight") || key.endsWith("rotary_emb.inv_freq");
}

/**
 * Strictly loads `dirOrFile` (model.safetensors, a sharded index, or a folder) into `model`; with `offload`
 * the weights stay in the checkpoint, which the model keeps open until it is disposed.
 */
export function loadQwen2Weights(
  model: Module & { config: Qwen2Config },
  dirOrFile: string,
  options: { offload?: boolean } = {},
): void {
  loadSafetensorsWeights(model, dirOrFile, qwen2LoadOptions(model, options));
}

/** loadQwen2Weights from a folder at a URL or in memory (only the tensors the model takes are fetched). */
export async function fetchQwen2Weights(
  model: Module & { config: Qwen2Config },
  folder: ModelFolder,
  options: { offload?: boolean } = {},
): Promise<void> {
  await loadFolderWeights(model, folder, qwen2LoadOptions(model, options));
}

function qwen2LoadOptions(
  model: Module & { config: Qwen2Config },
  options: { offload?: boolean },
): LoadWeightsOptions {
  return {
    strict: true,
    offload: options.offload,
    rename: (k) => (ignoredQwen2Key(model.config, k) ? undefined : k),
  };
}

/** config.json + model.safetensors (or shards + index) in `dir`, in `dtype` (default F32). */
export async function saveQwen2Pretrained(
  model: Module & { config: Qwen2Config },
  dir: string,
  options: { maxShardSize?: number | string; dtype?: "F32" | "BF16" | "F16" } = {},
): Promise<void> {
  const { mkdirSync, writeFileSync } = nodeBuiltin("node:fs", `writing ${dir}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    nodeBuiltin("node:path", `writing ${dir}`).join(dir, "config.json"),
    `${JSON.stringify(qwen2ConfigToJson(model.config), null, 2)}\n`,
  );
  await saveSafetensorsWeights(model, dir, { maxShardSize: options.maxShardSize, dtype: options.dtype });
}
