// @llava-ts/projector: LLaVA's multi-modal projector and the merge of image features into the text.
export { LlavaMultiModalProjector, type ProjectorOptions } from "./llava-multi-modal-projector.js";
export { mergeImageFeatures } from "./merge-image-features.js";
export { selectImageFeatures, type VisionFeatureSelectStrategy } from "./select-image-features.js";
