// From the entry itself: esbuild keeps an entry's `export *` of a package, not one in a shared chunk.
export * from "@llava-ts/errors";
export * from "./backend/init-backend.js";
export { type LoopBody, secondCoreJobs, sharedFloat32, splitLoop } from "./backend/second-core.js";
export { readInto, rewriteVariable, tensorFrom, valuesOf } from "./backend/tensor-io.js";
export { registerThreadedWasm, wasmThreads } from "./backend/wasm-threads.js";
export * from "./config.js";
export * from "./modules/index.js";
export * from "./nn/index.js";
export * from "./safetensors/index.js";
export * from "./weights/module-weights.js";
export * from "./workers/worker-entry-url.js";
