// @llava-ts/lora: LoRA adapters with PEFT 0.13's config keys, module structure and file format.
export { type ApplyLoraOptions, applyLora, DEFAULT_TARGET_MODULES, type LoraScope } from "./apply-lora.js";
export { type LoadAdapterOptions, loadAdapter } from "./load-adapter.js";
export {
  type InitLoraWeights,
  LORA_DEFAULTS,
  type LoraConfig,
  type LoraConfigInput,
  loraConfig,
  loraScaling,
  parseLoraConfig,
  readLoraConfig,
} from "./lora-config.js";
export { type AutoMapping, autoMappingFor, loraConfigToDict, loraConfigToJson } from "./lora-config-json.js";
export { loraDropout } from "./lora-dropout.js";
export { kaimingUniformInit, loraInitializers } from "./lora-init.js";
export { loraConfigOf, loraLayers, modulesToSaveWrappers } from "./lora-layers.js";
export { LoraLinear, type LoraLinearOptions } from "./lora-linear.js";
export { LoraSummary, type PartCount } from "./lora-summary.js";
export { mergeAndUnload, mergeLora, unloadLora, unmergeLora } from "./merge-lora.js";
export { ModuleDict } from "./module-dict.js";
export { ModulesToSaveWrapper, ParameterCopy } from "./modules-to-save-wrapper.js";
export { type AdapterKey, adapterStateDict, PEFT_PREFIX, parseAdapterKey } from "./peft-keys.js";
export { pythonJsonDumps } from "./python-json.js";
export {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_NAME,
  adapterFiles,
  type SaveAdapterOptions,
  type SavedAdapter,
  saveAdapter,
} from "./save-adapter.js";
export { setLoraTraining } from "./set-lora-training.js";
export { matchesSuffix, matchesTargetModules, patternValue } from "./target-modules.js";
