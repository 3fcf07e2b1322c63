// @llava-ts/clip: the CLIP vision tower (transformers' CLIPVisionModel) on TensorFlow.js.
export { type ClipVisionConfig, numPatches, parseClipVisionConfig } from "./clip-vision-config.js";
export { ClipAttention } from "./clip-attention.js";
export { ClipMLP } from "./clip-mlp.js";
export { ClipEncoderLayer } from "./clip-encoder-layer.js";
export { ClipEncoder, type EncoderOutput } from "./clip-encoder.js";
export { ClipVisionEmbeddings, PatchConv } from "./clip-vision-embeddings.js";
export { type ClipVisionOutput, ClipVisionTransformer } from "./clip-vision-transformer.js";
export {
  ClipVisionModel,
  type ClipVisionModelOptions,
  type FromPretrainedOptions,
} from "./clip-vision-model.js";
export { patchEmbed, patchify } from "./patch-embedding.js";
