// saveAdapter: a PEFT-format adapter folder (adapter_config.json + adapter_model.safetensors) that
// PeftModel.from_pretrained loads as is.
import {
  encodeSafetensors,
  LlavaError,
  type Module,
  OffloadedParameter,
  type PlainTensor,
  saveSafetensors,
  tensorEntries,
} from "@llava-ts/core";
import { nodeBuiltin } from "@llava-ts/files";
import type * as tf from "@tensorflow/tfjs-core";
import type { LoraConfig } from "./lora-config.js";
import { type AutoMapping, autoMappingFor, loraConfigToJson } from "./lora-config-json.js";
import { loraConfigOf } from "./lora-layers.js";
import { adapterStateDict } from "./peft-keys.js";

export const ADAPTER_CONFIG_NAME = "adapter_config.json";
export const ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors";

export interface SaveAdapterOptions {
  /** Overrides the config applyLora / loadAdapter recorded for this model. */
  config?: LoraConfig;
  /** auto_mapping for task_type null; by default derived from the model's class name (null if unknown). */
  autoMapping?: AutoMapping | null;
}

export interface SavedAdapter {
  configPath: string;
  weightsPath: string;
  /** Tensor names written, sorted. */
  keys: string[];
}

/** Writes the model's LoRA weights and modules_to_save in PEFT's layout to `dir` (created if needed). */
export async function saveAdapter(
  model: Module,
  dir: string,
  options: SaveAdapterOptions = {},
): Promise<SavedAdapter> {
  const { configJson, record, keys } = adapterContents(model, `saveAdapter(${dir})`, options);
  const { mkdirSync, writeFileSync } = nodeBuiltin("node:fs", `saveAdapter(${dir})`);
  const { join } = nodeBuiltin("node:path", `saveAdapter(${dir})`);
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, ADAPTER_CONFIG_NAME);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_NAME);
  writeFileSync(configPath, configJson);
  await saveSafetensors(weightsPath, record, { format: "pt" });
  return { configPath, weightsPath, keys };
}

/**
 * The two files saveAdapter writes, as bytes by name — what a page offers for download (a Blob each) or
 * hands back to loadAdapter as an in-memory folder.
 */
export async function adapterFiles(
  model: Module,
  options: SaveAdapterOptions = {},
): Promise<Record<typeof ADAPTER_CONFIG_NAME | typeof ADAPTER_WEIGHTS_NAME, Uint8Array>> {
  const { configJson, record } = adapterContents(model, "adapterFiles", options);
  return {
    [ADAPTER_CONFIG_NAME]: new TextEncoder().encode(configJson),
    [ADAPTER_WEIGHTS_NAME]: await encodeSafetensors(tensorEntries(record), { format: "pt" }),
  };
}

function adapterContents(model: Module, caller: string, options: SaveAdapterOptions) {
  const config = options.config ?? loraConfigOf(model);
  if (!config)
    throw new LlavaError(`${caller}: the model has no LoRA config; call applyLora or loadAdapter first`);
  const tensors = adapterStateDict(model);
  if (tensors.size === 0) throw new LlavaError(`${caller}: the model has no LoRA layers or modules_to_save`);
  const autoMapping =
    options.autoMapping !== undefined ? options.autoMapping : autoMappingFor(model.constructor.name);
  // A modules_to_save module loaded for inference may still be offloaded: its values are read from the host.
  const record: Record<string, tf.Tensor | PlainTensor> = Object.fromEntries(
    [...tensors].map(([k, p]) => [
      k,
      p instanceof OffloadedParameter
        ? { dtype: "float32" as const, shape: [...p.shape], data: p.dataSync() }
        : p,
    ]),
  );
  return { configJson: loraConfigToJson(config, autoMapping), record, keys: [...tensors.keys()].sort() };
}
