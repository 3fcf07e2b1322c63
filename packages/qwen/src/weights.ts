// Checkpoint I/O in one place, so it can move to core's loadSafetensorsWeights without touching the model.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Module,
  SafetensorsCheckpoint,
  type TensorSource,
  tensorEntries,
  writeSafetensorsCheckpoint,
} from "@llava-ts/core";
import { type Qwen2Config, qwen2ConfigToJson } from "./config.js";

/**
 * Keys a transformers checkpoint may hold that are not parameters here: a tied lm_head written anyway,
 * and rotary inv_freq buffers of older exports. Everything else must match exactly.
 */
export function ignoredQwen2Key(config: Qwen2Config, key: string): boolean {
  return (config.tie_word_embeddings && key === "lm_head.weight") || key.endsWith("rotary_emb.inv_freq");
}

/** Strictly loads `dirOrFile` (model.safetensors, a sharded index, or a folder) into `model`. */
export function loadQwen2Weights(model: Module & { config: Qwen2Config }, dirOrFile: string): void {
  const ckpt = SafetensorsCheckpoint.open(dirOrFile);
  try {
    const keys = ckpt.keys().filter((k) => !ignoredQwen2Key(model.config, k));
    const source: TensorSource = {
      keys: () => keys,
      shape: (k) => ckpt.info(k).shape,
      tensor: (k) => ckpt.tensor(k),
    };
    model.loadStateDict(source, { strict: true, source: ckpt.path });
  } finally {
    ckpt.close();
  }
}

/** config.json + model.safetensors (or shards + index) in `dir`, float32 as the parameters are. */
export async function saveQwen2Pretrained(
  model: Module & { config: Qwen2Config },
  dir: string,
  options: { maxShardSize?: number | string } = {},
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), `${JSON.stringify(qwen2ConfigToJson(model.config), null, 2)}\n`);
  const entries = tensorEntries(Object.fromEntries(model.stateDict()));
  await writeSafetensorsCheckpoint(dir, entries, { maxShardSize: options.maxShardSize });
}
