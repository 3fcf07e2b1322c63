export {
  appendMeanRows,
  type BuildLlavaOptions,
  type BuildLlavaResult,
  buildLlava,
  projectorEntries,
} from "./build-llava.js";
export {
  type CheckpointLayout,
  checkpointLayout,
  toCurrentKey,
  toLegacyKey,
} from "./checkpoint-layout.js";
export {
  checkTrainingStepFits,
  estimateTrainingStepBytes,
  type HeapEstimate,
  type TrainingStepShape,
} from "./heap-estimate.js";
export {
  type FeatureSelectStrategy,
  fetchLlavaConfig,
  type LlavaConfig,
  llavaImageMode,
  parseLlavaConfig,
  readLlavaConfig,
} from "./llava-config.js";
export {
  generateLlava,
  LlavaForConditionalGeneration,
  type LlavaGenerateOptions,
  type LlavaInitOptions,
  type LlavaInput,
  streamLlava,
} from "./llava-model.js";
export { copyModelFiles, isWeightFile, MODEL_FILES } from "./model-files.js";
export { fetchLlava, loadLlava, type SaveDtype, type SaveLlavaOptions, saveLlava } from "./pretrained.js";
export { processorFiles } from "./processor-files.js";
