// adapter_config.json as PEFT 0.13's save_pretrained writes it: every LoraConfig field, sorted keys,
// inference_mode true, and auto_mapping naming the base class when task_type is null.
import type { LoraConfig } from "./lora-config.js";
import { PyFloat, pythonJsonDumps } from "./python-json.js";

/** What PEFT records as the base model's class when task_type is null. */
export interface AutoMapping {
  base_model_class: string;
  parent_library: string;
}

/** transformers' module for the llava-ts classes whose names match HF's. */
const PARENT_LIBRARY: Record<string, string> = {
  LlavaForConditionalGeneration: "transformers.models.llava.modeling_llava",
  Qwen2ForCausalLM: "transformers.models.qwen2.modeling_qwen2",
  Qwen2Model: "transformers.models.qwen2.modeling_qwen2",
  CLIPVisionModel: "transformers.models.clip.modeling_clip",
  ClipVisionModel: "transformers.models.clip.modeling_clip",
};

/** The auto_mapping PEFT would write for a model of this class name, if it is a known HF class. */
export function autoMappingFor(className: string): AutoMapping | null {
  const parent = PARENT_LIBRARY[className];
  if (!parent) return null;
  return {
    base_model_class: className === "ClipVisionModel" ? "CLIPVisionModel" : className,
    parent_library: parent,
  };
}

/** The config as the plain object PEFT serialises (all 0.13 keys, unimplemented features at their defaults). */
export function loraConfigToDict(
  config: LoraConfig,
  autoMapping: AutoMapping | null = null,
): Record<string, unknown> {
  return {
    alpha_pattern: { ...config.alpha_pattern },
    auto_mapping: config.task_type === null ? autoMapping : null,
    base_model_name_or_path: config.base_model_name_or_path,
    bias: config.bias,
    fan_in_fan_out: config.fan_in_fan_out,
    inference_mode: config.inference_mode,
    init_lora_weights: config.init_lora_weights,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.lora_alpha,
    lora_dropout: new PyFloat(config.lora_dropout),
    megatron_config: null,
    megatron_core: "megatron.core",
    modules_to_save: config.modules_to_save === null ? null : [...config.modules_to_save],
    peft_type: config.peft_type,
    r: config.r,
    rank_pattern: { ...config.rank_pattern },
    revision: config.revision,
    target_modules:
      config.target_modules === null || typeof config.target_modules === "string"
        ? config.target_modules
        : [...config.target_modules],
    task_type: config.task_type,
    use_dora: false,
    use_rslora: config.use_rslora,
  };
}

/** adapter_config.json text; like PEFT's save_pretrained, the saved copy says inference_mode: true. */
export function loraConfigToJson(config: LoraConfig, autoMapping: AutoMapping | null = null): string {
  return pythonJsonDumps(loraConfigToDict({ ...config, inference_mode: true }, autoMapping));
}
