export * from "./build-llava.js";
export * from "./checkpoint-layout.js";
export * from "./llava-config.js";
export * from "./llava-model.js";
export { copyModelFiles, isWeightFile } from "./model-files.js";
export * from "./pretrained.js";
export * from "./processor-files.js";
