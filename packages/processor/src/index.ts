export * from "./clip-image-processor.js";
export * from "./llava-processor.js";
