// The wasm heap ends at 4 GiB (wasm32). tfjs' wasm backend calls malloc for every tensor and uses the
// pointer unchecked: built with memory growth, malloc returns 0 when the heap cannot grow, and a size of
// 4 GiB or more wraps around to a small one. Either way the tensor is then written over the heap's start,
// and the process later dies in a wasm abort ("memory access out of bounds", 30 kB of minified code) or
// hangs. The guard checks every allocation and throws an OutOfMemoryError naming the size instead, before
// anything is written.
import * as tf from "@tensorflow/tfjs-core";
import { OutOfMemoryError } from "../errors.js";
import { formatBytes, WASM_HEAP_LIMIT } from "../modules/heap-cache.js";

interface WasmModule {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAPU8: Uint8Array;
  llavaHeapGuard?: HeapUse;
}

/**
 * Bytes of tensors on the wasm heap, as allocated through tfjs' malloc: now, and the most since the last
 * reset. (tf.memory() and tf.profile count per tensor, not per allocation; what the heap holds besides —
 * XNNPACK's packed copies — is not counted here either.)
 */
export interface HeapUse {
  live: number;
  peak: number;
}

/**
 * Wraps the module's malloc and free (once). tfjs looks `_malloc` up on the module at every call, and
 * Emscripten's first call of its lazy export stub reassigns `Module._malloc` to the raw export: a setter
 * keeps that reassignment underneath the guard instead of replacing it. Sizes are kept per pointer, as an
 * unsigned address: wasm32's malloc returns an i32, negative from 2 GiB up, and tfjs frees the `>>> 0` of it
 * (keyed by the signed value, every tensor above 2 GiB stayed counted after its free, and a heap past 2 GiB
 * soon looked full).
 */
export function guardWasmHeap(module: WasmModule): void {
  if (module.llavaHeapGuard) return;
  const use: HeapUse = { live: 0, peak: 0 };
  const sizes = new Map<number, number>();
  let malloc = module._malloc;
  let free = module._free;
  const guarded = (bytes: number) => {
    if (bytes >= WASM_HEAP_LIMIT) throw outOfMemory(bytes, module.HEAPU8.buffer.byteLength);
    // An operator XNNPACK could not create left its output unwritten: nothing may read it.
    const failed = takeXnnFailure();
    if (failed) throw xnnError(failed, use.live, module.HEAPU8.buffer.byteLength);
    // Room first: the heap cache lets go of weights it can bring back (they would crowd out activations).
    pressure?.(use.live, bytes, false);
    let ptr = malloc(bytes);
    if (ptr === 0 && bytes > 0 && pressure) {
      pressure(use.live, bytes, true); // the heap is full: every weight that can go, goes, then try again
      ptr = malloc(bytes);
    }
    if (ptr === 0 && bytes > 0) throw outOfMemory(bytes, module.HEAPU8.buffer.byteLength);
    sizes.set(ptr >>> 0, bytes);
    use.live += bytes;
    if (use.live > use.peak) use.peak = use.live;
    return ptr;
  };
  const guardedFree = (ptr: number) => {
    const bytes = sizes.get(ptr >>> 0);
    if (bytes !== undefined) {
      sizes.delete(ptr >>> 0);
      use.live -= bytes;
    }
    free(ptr);
  };
  Object.defineProperty(module, "_malloc", {
    configurable: true,
    get: () => guarded,
    set: (f: typeof malloc) => {
      malloc = f;
    },
  });
  Object.defineProperty(module, "_free", {
    configurable: true,
    get: () => guardedFree,
    set: (f: typeof free) => {
      free = f;
    },
  });
  module.llavaHeapGuard = use;
}

/**
 * Called before every tensor allocation with the live tensor bytes and the size asked for; `full` when malloc
 * has just failed. Core's heap cache registers one that evicts offloaded weights past its budget. With
 * `inUse` (the data ids the running operation reads), every weight it can bring back again, but those, goes.
 * Returns whether it freed anything.
 */
export type HeapPressureHandler = (
  live: number,
  bytes: number,
  full: boolean,
  inUse?: ReadonlySet<object>,
) => boolean;
let pressure: HeapPressureHandler | undefined;

/**
 * Frees every cached weight the operation reading `inUse` does not need (XNNPACK's own allocations, its
 * packed operands, are not tensors: when one fails, this is the room there is to give). Whether it freed any.
 */
export function relieveWasmHeap(inUse: ReadonlySet<object>): boolean {
  return pressure?.(guardedLiveBytes() ?? 0, 0, true, inUse) ?? false;
}

/** An XNNPACK operator that could not be created: the operator and XNNPACK's status. */
export interface XnnFailure {
  operator: string;
  status: number;
}
let xnnFailure: XnnFailure | undefined;

/**
 * Reads a line the wasm module prints. tfjs' C++ side only warns when XNNPACK cannot create an operator
 * ("XNN status for xnn_create_… is not successful. Got status 6") and then runs without it, leaving the
 * output unwritten: such a line is remembered (and not printed) for the kernel to act on. Returns whether
 * the line was one.
 */
export function noteWasmOutput(text: string): boolean {
  const m = /XNN status for (\w+) is not successful\. Got status (\d+)/.exec(text);
  if (!m) return false;
  xnnFailure ??= { operator: m[1], status: Number(m[2]) };
  return true;
}

/** The XNNPACK failure since the last call, if any (and forgets it). */
export function takeXnnFailure(): XnnFailure | undefined {
  const f = xnnFailure;
  xnnFailure = undefined;
  return f;
}

/** XNNPACK's status names (xnnpack.h). */
const XNN_STATUS = [
  "success",
  "uninitialized",
  "invalid parameter",
  "invalid state",
  "unsupported parameter",
  "unsupported hardware",
  "out of memory",
];

/** The error for an operator XNNPACK could not create; `what` describes the operation. */
export function xnnError(f: XnnFailure, live: number, heap: number, what = "an operation"): OutOfMemoryError {
  const status = `status ${f.status}, ${XNN_STATUS[f.status] ?? "unknown"}`;
  if (f.status !== 6)
    return new OutOfMemoryError(`XNNPACK could not create ${f.operator} for ${what} (${status})`, 0, heap);
  return new OutOfMemoryError(
    `out of wasm memory: XNNPACK could not create ${f.operator} for ${what} (${status}) with ` +
      `${formatBytes(live)} of tensors live, the heap spanning ${formatBytes(heap)} of ` +
      `${formatBytes(WASM_HEAP_LIMIT)}; lower --max-heap to leave XNNPACK more room, or use a smaller batch or shorter sequences`,
    0,
    heap,
  );
}

/** Registers (or with undefined removes) the handler that frees heap before allocations. */
export function onWasmHeapPressure(handler: HeapPressureHandler | undefined): void {
  pressure = handler;
}

/** Live tensor bytes as malloc counts them when the current backend is a guarded wasm heap, else undefined. */
export function guardedLiveBytes(): number | undefined {
  if (tf.getBackend() !== "wasm") return undefined;
  return (tf.backend() as unknown as { wasm: WasmModule }).wasm.llavaHeapGuard?.live;
}

/** Live and peak tensor bytes on the current wasm heap (zeros elsewhere); `reset` restarts the peak. */
export function wasmTensorBytes(options: { reset?: boolean } = {}): HeapUse {
  const use =
    tf.getBackend() === "wasm"
      ? (tf.backend() as unknown as { wasm: WasmModule }).wasm.llavaHeapGuard
      : undefined;
  if (!use) return { live: 0, peak: 0 };
  const now = { ...use };
  if (options.reset) use.peak = use.live;
  return now;
}

/** Guards the current backend when it is wasm (a no-op on the others). */
export function guardCurrentWasmHeap(): void {
  if (tf.getBackend() !== "wasm") return;
  guardWasmHeap((tf.backend() as unknown as { wasm: WasmModule }).wasm);
}

/** Bytes the current wasm heap spans (it only grows), or 0 on other backends. */
export function wasmHeapBytes(): number {
  if (tf.getBackend() !== "wasm") return 0;
  return (tf.backend() as unknown as { wasm: WasmModule }).wasm.HEAPU8.buffer.byteLength;
}

function outOfMemory(bytes: number, heap: number): OutOfMemoryError {
  return new OutOfMemoryError(
    `out of wasm memory: a tensor of ${formatBytes(bytes)} does not fit (the heap spans ${formatBytes(heap)} ` +
      `and ends at ${formatBytes(WASM_HEAP_LIMIT)}); use a smaller batch or shorter sequences`,
    bytes,
    heap,
  );
}
