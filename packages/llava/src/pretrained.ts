// The HF llava folder layout: config.json, weights (sharded past a size limit, with the index) and, when
// present, the tokenizer and processor files that travel with the model.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  emptyWeights,
  loadSafetensorsWeights,
  type PretrainedOptions,
  resolveOffload,
  saveSafetensorsWeights,
  type WrittenCheckpoint,
} from "@llava-ts/core";
import { type LlavaConfig, readLlavaConfig } from "./llava-config.js";
import { LlavaForConditionalGeneration } from "./llava-model.js";

/** Checkpoint keys that are not parameters here: a tied lm_head saved anyway, rotary and position buffers. */
function dropBuffers(config: LlavaConfig): (key: string) => string | undefined {
  return (key) => {
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
  const config = readLlavaConfig(dir);
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

export interface SaveLlavaOptions {
  /** Shard limit in bytes or "5GB" (transformers' default). */
  maxShardSize?: number | string;
}

/** Writes config.json and the weights in transformers' layout. */
export async function saveLlava(
  model: LlavaForConditionalGeneration,
  dir: string,
  options: SaveLlavaOptions = {},
): Promise<WrittenCheckpoint> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), `${JSON.stringify(model.config.raw, null, 2)}\n`);
  return saveSafetensorsWeights(model, dir, { maxShardSize: options.maxShardSize ?? "5GB" });
}
