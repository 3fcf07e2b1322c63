// saveAdapter: a PEFT-format adapter folder (adapter_config.json + adapter_model.safetensors) that
// PeftModel.from_pretrained loads as is.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LlavaError, type Module, OffloadedParameter, saveSafetensors } from "@llava-ts/core";
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
  const config = options.config ?? loraConfigOf(model);
  if (!config)
    throw new LlavaError(
      `saveAdapter(${dir}): the model has no LoRA config; call applyLora or loadAdapter first`,
    );
  const tensors = adapterStateDict(model);
  if (tensors.size === 0)
    throw new LlavaError(`saveAdapter(${dir}): the model has no LoRA layers or modules_to_save`);
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, ADAPTER_CONFIG_NAME);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_NAME);
  const autoMapping =
    options.autoMapping !== undefined ? options.autoMapping : autoMappingFor(model.constructor.name);
  writeFileSync(configPath, loraConfigToJson(config, autoMapping));
  // A modules_to_save module loaded for inference may still be offloaded: its values are read from the host.
  const record = Object.fromEntries(
    [...tensors].map(([k, p]) => [
      k,
      p instanceof OffloadedParameter
        ? { dtype: "float32" as const, shape: [...p.shape], data: p.dataSync() }
        : p,
    ]),
  );
  await saveSafetensors(weightsPath, record, { format: "pt" });
  return { configPath, weightsPath, keys: [...tensors.keys()].sort() };
}
