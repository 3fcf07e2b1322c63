export * from "./llava-config.js";
export * from "./llava-model.js";
export * from "./pretrained.js";
