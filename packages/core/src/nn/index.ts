export {
  ACTIVATION_NAMES,
  type Activation,
  gelu,
  geluTanh,
  getActivation,
  quickGelu,
  silu,
} from "./activations.js";
export { scaledDotProductAttention } from "./attention.js";
export { type AttentionBiasOptions, attentionBias, MASK_VALUE } from "./attention-mask.js";
export { causalLmLoss, crossEntropy, IGNORE_INDEX, labelledPositions } from "./causal-lm-loss.js";
export { type CheckpointedFn, checkpoint, isRecordingGradients } from "./checkpoint.js";
export { embedding } from "./embedding.js";
export { layerNorm } from "./layer-norm.js";
export { linear } from "./linear.js";
export { rmsNorm } from "./rms-norm.js";
export { applyRotary, rotaryCosSin, rotateHalf } from "./rope.js";
export { chunkedCrossEntropy, chunkedLogits, type VocabChunks } from "./vocab-chunked.js";
