// Which offloaded parameters are in the wasm heap now. A parameter is brought in when it is used and kept
// while the heap's live tensors stay under a cap (least recently used go first), so a model that fits
// stays resident between calls and a larger one streams through layer by layer. The cap holds at every
// allocation, not only when weights come in: on wasm the heap guard asks the cache for room before each
// tensor is allocated, so activations (a checkpointed block's backward pass) push cached weights out
// instead of running the heap into its 4 GiB end. Evicting a tensor that a gradient tape still holds is
// safe (tfjs reference-counts the saved copy); it only frees nothing.
import { envVar } from "@llava-ts/files";
import * as tf from "@tensorflow/tfjs-core";
import { tensorFrom } from "../backend/tensor-io.js";
import { guardedLiveBytes, onWasmHeapPressure } from "../backend/wasm-heap-guard.js";
import { markStreamed } from "../backend/wasm-matmul.js";
import { HeapBudgetError, LlavaError } from "../errors.js";
import type { OffloadedParameter } from "./offloaded-parameter.js";

/** The wasm32 heap ends at 4 GiB (the 4,096th MiB cannot be allocated). */
export const WASM_HEAP_LIMIT = 4 * 2 ** 30;

/**
 * Default cap on live tensor bytes: three quarters of the heap. The rest is for what tf.memory() does not
 * count — XNNPACK's packed copies of the operands it multiplies, the matmul transpose cache — and for the
 * allocator's fragmentation.
 */
export const DEFAULT_MAX_HEAP = 3 * 2 ** 30;

/**
 * Default cap while training: half the heap. A training step allocates and frees activations, gradients and
 * streamed weights of many sizes, and the allocator cannot move what is live: measured on the real-shaped
 * 3B use_lora step, at 3 GiB the heap ran into its end with 1.65 GiB live, when XNNPACK needed 86 MiB for a
 * packed MLP weight; at 2 GiB the step completes.
 */
export const DEFAULT_TRAIN_MAX_HEAP = 2 * 2 ** 30;

export interface HeapCacheStats {
  /** Cap on live tensor bytes the cache evicts to stay under. */
  maxHeapBytes: number;
  /** Offloaded parameters in the heap now, and their bytes. */
  residentParameters: number;
  residentBytes: number;
  /** Bring-ins (each a read of the host values) and evictions since the process started. */
  broughtIn: number;
  broughtInBytes: number;
  evictions: number;
  hits: number;
}

const cache = new Map<OffloadedParameter, tf.Tensor>(); // least recently used first
const protectedSet = new Set<OffloadedParameter>();
let maxHeapBytes: number | undefined; // set on first use: LLAVA_MAX_HEAP, else the default
const stats = { broughtIn: 0, broughtInBytes: 0, evictions: 0, hits: 0 };

/** Parses "3GB", "2.5GiB", "512MB" or a byte count; GB = 10⁹ as transformers' max_shard_size, GiB = 2³⁰. */
export function parseByteSize(value: number | string, what = "size"): number {
  if (typeof value === "number") {
    if (!(value > 0) || !Number.isFinite(value))
      throw new LlavaError(`${what} must be a positive number of bytes, got ${value}`);
    return Math.floor(value);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KIB|MIB|GIB)?\s*$/i.exec(value);
  if (!m) throw new LlavaError(`${what}: cannot read "${value}" as a size (e.g. 3GB, 2.5GiB, 512MB)`);
  const unit = (m[2] ?? "B").toUpperCase();
  const scale: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    KIB: 2 ** 10,
    MIB: 2 ** 20,
    GIB: 2 ** 30,
  };
  const bytes = Math.floor(Number(m[1]) * scale[unit]);
  if (!(bytes > 0)) throw new LlavaError(`${what} must be positive, got "${value}"`);
  return bytes;
}

function checkedMaxHeap(value: number | string, what: string): number {
  const bytes = parseByteSize(value, what);
  if (bytes > WASM_HEAP_LIMIT)
    throw new LlavaError(
      `${what} ${formatBytes(bytes)} is more than the wasm heap can hold (${formatBytes(WASM_HEAP_LIMIT)})`,
    );
  return bytes;
}

/**
 * Sets the cap on live tensor bytes (`--max-heap`); undefined restores the default: the LLAVA_MAX_HEAP
 * environment variable, else DEFAULT_MAX_HEAP, or DEFAULT_TRAIN_MAX_HEAP with `training`.
 */
export function setMaxHeap(value?: number | string, options: { training?: boolean } = {}): void {
  maxHeapBytes = value === undefined ? defaultMaxHeap(options.training) : checkedMaxHeap(value, "max heap");
  evictUntil(0);
}

function defaultMaxHeap(training = false): number {
  const env = envVar("LLAVA_MAX_HEAP");
  if (env) return checkedMaxHeap(env, "LLAVA_MAX_HEAP");
  return training ? DEFAULT_TRAIN_MAX_HEAP : DEFAULT_MAX_HEAP;
}

export function maxHeap(): number {
  maxHeapBytes ??= defaultMaxHeap();
  return maxHeapBytes;
}

export function heapCacheStats(): HeapCacheStats {
  let residentBytes = 0;
  for (const p of cache.keys()) residentBytes += p.heapBytes;
  return { maxHeapBytes: maxHeap(), residentParameters: cache.size, residentBytes, ...stats };
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 10).toFixed(1)} KiB`;
}

/** The heap tensor of `p`: a cache hit, or its host values widened straight into new heap memory. */
export function residentTensor(p: OffloadedParameter): tf.Tensor {
  const hit = cache.get(p);
  if (hit) {
    cache.delete(p); // re-inserted last: most recently used
    cache.set(p, hit);
    stats.hits++;
    return hit;
  }
  if (!pressureHandled) {
    onWasmHeapPressure(relievePressure); // here, not at import: the guard's module imports this one
    pressureHandled = true;
  }
  makeRoom(p.heapBytes, p.label);
  const t = tf.keep(broughtIn(p));
  markStreamed(t.dataId);
  cache.set(p, t);
  stats.broughtIn++;
  stats.broughtInBytes += p.heapBytes;
  return t;
}

/** A new heap tensor of `p`'s values: host values widened straight into heap memory (plus a merge's delta). */
function broughtIn(p: OffloadedParameter): tf.Tensor {
  const base = tensorFrom(p.shape, (values) => p.readInto(values));
  const delta = p.mergeDelta();
  if (!delta) return base;
  const sum = tf.add(base, delta);
  tf.dispose([base, delta]);
  return sum;
}

/**
 * Brings a group of parameters (a decoder layer) in together: they are not evicted for each other, and a
 * group that cannot fit even with everything else evicted is an error naming it and the sizes.
 */
export function bringIn(params: readonly OffloadedParameter[], name: string): void {
  if (params.length === 0) return;
  const need = params.reduce((a, p) => a + (cache.has(p) ? 0 : p.heapBytes), 0);
  const total = params.reduce((a, p) => a + p.heapBytes, 0);
  if (total > maxHeap())
    throw new HeapBudgetError(
      `${name} needs ${formatBytes(total)} of weights in the heap at once, more than the heap budget of ` +
        `${formatBytes(maxHeap())} (--max-heap; the wasm heap ends at ${formatBytes(WASM_HEAP_LIMIT)})`,
    );
  largestGroupBytes = Math.max(largestGroupBytes, total);
  for (const p of params) protectedSet.add(p);
  try {
    makeRoom(need, name);
    for (const p of params) residentTensor(p);
  } finally {
    for (const p of params) protectedSet.delete(p);
  }
}

/**
 * Bytes of live tensors: what malloc holds for them on a guarded wasm heap (a reshape's shared data once),
 * else tf.memory()'s per-tensor count.
 */
function liveBytes(): number {
  return guardedLiveBytes() ?? tf.memory().numBytes;
}

/** Evicts least recently used parameters until `bytes` more fit under the cap (or nothing is left to evict). */
function evictUntil(bytes: number, spare: ReadonlySet<OffloadedParameter> = protectedSet): boolean {
  const cap = maxHeap();
  if (liveBytes() + bytes <= cap) return true;
  for (const [p, t] of cache) {
    if (spare.has(p)) continue;
    cache.delete(p);
    t.dispose();
    stats.evictions++;
    if (liveBytes() + bytes <= cap) return true;
  }
  return false;
}

/** The largest group brought in together so far (a decoder layer's weights). */
let largestGroupBytes = 0;

/**
 * The heap guard's call before an allocation: past the cap, cached weights leave (least recently used
 * first) — all but the most recently used layer's worth, which the operation now running may be reading.
 * When malloc has failed (`full`), only those the running operation may read stay.
 */
function relievePressure(live: number, bytes: number, full: boolean, inUse?: ReadonlySet<object>): boolean {
  if (cache.size === 0 || (!full && live + bytes <= maxHeap())) return false;
  const before = stats.evictions;
  const spare = new Set(protectedSet);
  // The most recently used layer's worth stays (the running layer holds its weights); when malloc has failed
  // and the running operation's inputs are not known, only the last one. Its inputs, when known, stay too.
  const keep = full && !inUse ? 0 : largestGroupBytes;
  let kept = 0;
  let n = 0;
  for (const p of [...cache.keys()].reverse()) {
    if (n > 0 && kept + p.heapBytes > keep) break;
    spare.add(p);
    kept += p.heapBytes;
    n++;
  }
  if (inUse) for (const [p, t] of cache) if (inUse.has(t.dataId)) spare.add(p);
  evictUntil(full ? Number.POSITIVE_INFINITY : bytes, spare); // full: everything not spared goes
  return stats.evictions > before;
}
let pressureHandled = false;

/** Evicts until `bytes` more fit under the cap; an error naming `what` and the sizes when they cannot. */
function makeRoom(bytes: number, what: string): void {
  if (!evictUntil(bytes)) {
    const live = liveBytes();
    throw new HeapBudgetError(
      `${what} needs ${formatBytes(bytes)} more in the heap, but ${formatBytes(live)} of tensors are live ` +
        `and cannot be released (budget ${formatBytes(maxHeap())}, --max-heap). In training, enable ` +
        "gradient checkpointing so activations and weights are not all held until the backward pass.",
    );
  }
}

/**
 * Makes room for `bytes` that will stay in the heap for good (parameters becoming trainable variables);
 * when even an empty cache cannot make room, an error naming `what` and the sizes.
 */
export function requireHeapRoom(bytes: number, what: string): void {
  if (evictUntil(bytes)) return;
  throw new HeapBudgetError(
    `${what}: ${formatBytes(bytes)} of float32 weights do not fit in the heap beside the ` +
      `${formatBytes(liveBytes())} already there (budget ${formatBytes(maxHeap())}, --max-heap; ` +
      `the wasm heap ends at ${formatBytes(WASM_HEAP_LIMIT)}). Train fewer parameters (use_lora, projector_only).`,
  );
}

/** Drops `params` (and their vocabulary chunks) from the heap: the owning model is disposed or changed. */
export function evict(params: Iterable<OffloadedParameter>): void {
  for (const p of params)
    for (const q of p.withChunks()) {
      const t = cache.get(q);
      if (!t) continue;
      cache.delete(q);
      t.dispose();
    }
}

/** Drops every offloaded parameter from the heap (tests; or to give the heap to something else). */
export function clearHeapCache(): void {
  for (const t of cache.values()) t.dispose();
  cache.clear();
}
