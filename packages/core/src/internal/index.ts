// @llava-ts/core/internal: engine-level helpers the other llava-ts packages are built with — long JS loops
// on the second core, tensor data without copies, worker entries. Not a stable API.

export { brandClass } from "@llava-ts/errors";
export { type LoopBody, secondCoreJobs, sharedFloat32, splitLoop } from "../backend/second-core.js";
export { readInto, rewriteVariable, tensorFrom, valuesOf } from "../backend/tensor-io.js";
export { registerThreadedWasm } from "../backend/wasm-threads.js";
export { siblingEntry, workerEntryUrl } from "../workers/worker-entry-url.js";
