// Moving float32 values between tensors and JS memory with as few copies as the backend allows. On wasm
// a tensor's values are a range of the wasm heap, so reading is one copy (not dataSync's copy plus the
// caller's) and a variable can be rewritten by computing straight into a fresh heap buffer. The trainer
// moves every gradient out and every updated weight back each step (~100 M values for freeze_vision).
import * as tf from "@tensorflow/tfjs-core";
import { ShapeError } from "../errors.js";
import type { WasmBackendLike } from "./wasm-transpose.js";

/**
 * Whether the current backend keeps tensors in host memory (wasm, cpu, tensorflow), so that a synchronous
 * read is a copy. On webgl and webgpu it is a GPU readback that stalls the pipeline — and on WebGPU tfjs
 * does it through canvases, which on Chromium's SwiftShader adapter returns wrong values and loses the
 * device from 4 KiB up (docs/browser.md): fused JS kernels give way to tfjs ops there.
 */
export function hostMemoryBackend(): boolean {
  const name = tf.getBackend();
  return name === "wasm" || name === "cpu" || name === "tensorflow";
}

function wasmBackend(): WasmBackendLike | undefined {
  return tf.getBackend() === "wasm" ? (tf.backend() as unknown as WasmBackendLike) : undefined;
}

/** Copies the values of a float32 tensor into `dst` at `offset`. */
export function readInto(t: tf.Tensor, dst: Float32Array, offset = 0): void {
  if (t.dtype !== "float32") throw new ShapeError(`readInto: expected a float32 tensor, got ${t.dtype}`);
  if (offset + t.size > dst.length)
    throw new ShapeError(`readInto: ${t.size} values do not fit at ${offset} in ${dst.length}`);
  dst.set(valuesOf(t), offset);
}

/**
 * The values of a float32 tensor, without a copy on wasm (a view of the heap, valid only until the next
 * tfjs call that may allocate); a fresh copy elsewhere. Never write to it.
 */
export function valuesOf(t: tf.Tensor): Float32Array {
  const wasm = wasmBackend();
  if (wasm)
    return wasm.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as Float32Array;
  return t.dataSync() as Float32Array;
}

/**
 * Replaces a float32 variable's values: `fill(next, current)` writes the new values into `next` given the
 * current ones (on wasm both are heap views and nothing else is allocated). The old data is released by
 * the assignment, so caches keyed by data (matmul transposes, XNNPACK packings) never see stale values.
 */
export function rewriteVariable(
  v: tf.Variable,
  fill: (next: Float32Array, current: Float32Array) => void,
): void {
  if (v.dtype !== "float32")
    throw new ShapeError(`rewriteVariable: expected a float32 variable, got ${v.dtype}`);
  const wasm = wasmBackend();
  let next: tf.Tensor;
  if (wasm) {
    const info = wasm.makeOutput([...v.shape], "float32");
    // Views after the allocation: growing the heap detaches older ones.
    const current = wasm.typedArrayFromHeap({
      dataId: v.dataId,
      shape: v.shape,
      dtype: "float32",
    }) as Float32Array;
    fill(wasm.typedArrayFromHeap(info) as Float32Array, current);
    next = tf.engine().makeTensorFromTensorInfo(info);
  } else {
    const values = new Float32Array(v.size);
    fill(values, v.dataSync() as Float32Array);
    next = tf.tensor(values, v.shape, "float32");
  }
  v.assign(next);
  next.dispose();
}

/** A new float32 tensor whose values `fill` writes (on wasm straight into the heap: no JS array, no copy). */
export function tensorFrom(shape: readonly number[], fill: (values: Float32Array) => void): tf.Tensor {
  const wasm = wasmBackend();
  if (wasm) {
    const info = wasm.makeOutput([...shape], "float32");
    fill(wasm.typedArrayFromHeap(info) as Float32Array);
    return tf.engine().makeTensorFromTensorInfo(info);
  }
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fill(values);
  return tf.tensor(values, [...shape], "float32");
}
