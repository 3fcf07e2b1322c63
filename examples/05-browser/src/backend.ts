// The backend a page runs on: WebGPU, then WebGL, then wasm (initBackend's order in a browser), or the one
// asked for. Importing a tfjs backend package registers it; the .wasm files are served as vite assets.
import { type BackendName, initBackend } from "@llava-ts/core";
import "@tensorflow/tfjs-backend-webgl";
import "@tensorflow/tfjs-backend-webgpu";
import wasm from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm?url";
import wasmSimd from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-simd.wasm?url";
import wasmThreaded from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm?url";

export const WASM_PATHS = {
  "tfjs-backend-wasm.wasm": wasm,
  "tfjs-backend-wasm-simd.wasm": wasmSimd,
  "tfjs-backend-wasm-threaded-simd.wasm": wasmThreaded,
};

/** Initialises `backend` (or the best available) and returns the one in use. */
export function setUpBackend(backend?: BackendName): Promise<BackendName> {
  return initBackend({ backend, wasmPaths: WASM_PATHS });
}
