export { type AttentionContext, Qwen2Attention } from "./attention.js";
export {
  type CausalLMInput,
  type CausalLMLossOutput,
  type CausalLMOutput,
  type LogitsMode,
  Qwen2ForCausalLM,
  type Qwen2InitOptions,
} from "./causal-lm.js";
export {
  fetchQwen2Config,
  headDim,
  loadQwen2Config,
  parseQwen2Config,
  type Qwen2Config,
  qwen2ConfigToJson,
  qwen2ParameterCount,
} from "./config.js";
export { Qwen2DecoderLayer } from "./decoder-layer.js";
export {
  type CausalLM,
  type GenerateOptions,
  type GenerateOutput,
  type GenerateStep,
  generate,
  generateStream,
} from "./generate.js";
export { arangePositionIds, type IntInput, positionIdsFromMask } from "./inputs.js";
export { KVCache } from "./kv-cache.js";
export {
  applyRepetitionPenalty,
  applyTopK,
  applyTopP,
  argmax,
  nextToken,
  type SamplingOptions,
  sampleFrom,
} from "./logits-processors.js";
export { Qwen2MLP } from "./mlp.js";
export { Qwen2Model, type Qwen2ModelInput, type Qwen2ModelOutput } from "./model.js";
export { Qwen2RotaryEmbedding } from "./rotary-embedding.js";
export { fetchQwen2Weights, ignoredQwen2Key, loadQwen2Weights, saveQwen2Pretrained } from "./weights.js";
