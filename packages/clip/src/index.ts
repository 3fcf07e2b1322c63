// @llava-ts/clip: the CLIP vision tower (transformers' CLIPVisionModel) on TensorFlow.js.

export { ClipAttention } from "./clip-attention.js";
export { ClipEncoder, type EncoderOutput } from "./clip-encoder.js";
export { ClipEncoderLayer } from "./clip-encoder-layer.js";
export { ClipMLP } from "./clip-mlp.js";
export { type ClipVisionConfig, numPatches, parseClipVisionConfig } from "./clip-vision-config.js";
export { ClipVisionEmbeddings, PatchConv } from "./clip-vision-embeddings.js";
export {
  ClipVisionModel,
  type ClipVisionModelOptions,
  type FromPretrainedOptions,
} from "./clip-vision-model.js";
export { type ClipVisionOutput, ClipVisionTransformer } from "./clip-vision-transformer.js";
export { patchEmbed, patchify } from "./patch-embedding.js";
