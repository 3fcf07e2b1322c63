// Kernels the wasm backend lacks but training needs. UnsortedSegmentSum is gather's gradient, so without
// it an embedding cannot be trained on wasm. Implemented in JS over the wasm heap: it is a scatter-add,
// memory-bound, and runs once per backward pass.
import * as tf from "@tensorflow/tfjs-core";
import { processWide } from "./process-wide.js";
import { makeWasmBatchMatMul } from "./wasm-matmul.js";
import { wasmIdentity, wasmTranspose } from "./wasm-transpose.js";

interface WasmBackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

function unsortedSegmentSum(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  // segmentIds covers the leading dims of x; the rest form one row per segment id.
  const idsRank = segmentIds.shape.length;
  const rowShape = x.shape.slice(idsRank);
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const values = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  const out = backend.makeOutput([numSegments, ...rowShape], x.dtype);
  const dst = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  dst.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const seg = ids[i];
    if (seg < 0 || seg >= numSegments) continue; // TensorFlow drops out-of-range ids the same way
    const src = i * rowSize;
    const to = seg * rowSize;
    for (let j = 0; j < rowSize; j++) dst[to + j] += values[src + j];
  }
  return out;
}

const kernels = processWide("wasm-kernels", () => ({ registered: false }));

/** Swaps a kernel the wasm backend has for ours (its setup has already run at backend init). */
function replaceKernel(name: string, make: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const original = tf.getKernel(name, "wasm");
  if (!original) return;
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel({ kernelName: name, backendName: "wasm", kernelFunc: make(original.kernelFunc) });
}

export function registerWasmKernels(): void {
  if (kernels.registered) return;
  const have = new Set(tf.getKernelsForBackend("wasm").map((k) => k.kernelName));
  if (!have.has("UnsortedSegmentSum"))
    tf.registerKernel({
      kernelName: "UnsortedSegmentSum",
      backendName: "wasm",
      kernelFunc: unsortedSegmentSum as never,
    });
  // Speed (docs/performance.md): every product through XNNPACK, tiled transposes, copy-free Identity.
  replaceKernel("BatchMatMul", (original) => makeWasmBatchMatMul(original as never) as never);
  replaceKernel("Transpose", () => wasmTranspose as never);
  replaceKernel("Identity", () => wasmIdentity as never);
  kernels.registered = true;
}
