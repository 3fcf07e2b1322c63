export * from "./backend/init-backend.js";
export { readInto, rewriteVariable, tensorFrom, valuesOf } from "./backend/tensor-io.js";
export * from "./config.js";
export * from "./errors.js";
export * from "./modules/index.js";
export * from "./nn/index.js";
export * from "./safetensors/index.js";
export * from "./weights/module-weights.js";
export * from "./workers/worker-entry-url.js";
