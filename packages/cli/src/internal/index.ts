// @llava-ts/cli/internal: the demo's pieces, for the examples and tools — random tiny CLIP and Qwen2.5
// checkpoints in the Hub's layouts (with the bundled Qwen2.5 tokenizer) and synthetic caption sets read back
// as training batches. Not a stable API.

export { captionSet, trainingBatches } from "../demo/caption-batches.js";
export { type DemoSettings, FULL_DEMO, QUICK_DEMO } from "../demo/demo-settings.js";
export { type TinySizes, writeTinyClip, writeTinyQwen } from "../demo/tiny-checkpoints.js";
