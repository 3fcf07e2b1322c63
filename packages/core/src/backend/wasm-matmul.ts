// BatchMatMul for the wasm backend, routed so that XNNPACK does every product. tfjs-backend-wasm sends
// only a 2D-shaped product without transposes to XNNPACK (10–30 GFLOP/s here); transposed operands and
// batches > 1 fall to a naive loop at 0.5–1.3 GFLOP/s — and every linear layer (x·Wᵀ), its backward
// (dyᵀ·x) and attention (q·kᵀ over B·heads) are exactly those cases. So: transpose in JS (fast tiles),
// split batches into 2D products, and for x·Wᵀ with a large W pick the cheaper of transposing W or
// computing (W·xᵀ)ᵀ. Transposes of big weights are cached by data id while that data lives (a frozen
// weight is transposed once, not every step).
import * as tf from "@tensorflow/tfjs-core";
import { guardedLiveBytes, relieveWasmHeap, takeXnnFailure, xnnError } from "./wasm-heap-guard.js";
import { type NumericArray, transposeArray, type WasmBackendLike } from "./wasm-transpose.js";

type Kernel = (args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}) => tf.TensorInfo;

interface Cached {
  info: tf.TensorInfo;
  bytes: number;
}

/**
 * Data of offloaded weights the heap cache brings in and out (core's heap-cache.ts). Their transposes are
 * never cached: the heap is the scarce thing, and the cached copy (plus XNNPACK's packing of it) would
 * triple a weight's footprint. They are multiplied as (W·xᵀ)ᵀ, which packs only the activations.
 */
const streamed = new WeakSet<object>();

/** Marks a tensor's data as a streamed (offloaded) weight; see `streamed`. */
export function markStreamed(dataId: object): void {
  streamed.add(dataId);
}

/**
 * XNNPACK's packed right operand is cached by tfjs under the operand's data id alone, so the same data
 * under a second shape (a reshape shares data) would reuse a wrong operator. Remember each right
 * operand's [K, N] and pass a copy when it differs.
 */
const rightShapes = new WeakMap<object, string>();

/**
 * A streamed weight larger than this (values) as the right operand of a plain product is multiplied in
 * column blocks: XNNPACK packs its right operand into memory of its own, and a whole 86 MiB MLP weight (plus
 * the copy it is packed from) needs two contiguous 86 MiB holes in a heap that training leaves fragmented.
 * 16 MiB blocks find room; each block is still a large product.
 */
const BLOCK_VALUES = 1 << 22;

/** The original kernel on a plain [1, M, K]·[1, K, N] product; `b` is copied if its data had another shape. */
function runPlain(
  backend: WasmBackendLike,
  original: Kernel,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
): tf.TensorInfo {
  const [, K, N] = b.shape;
  if (streamed.has(b.dataId) && K * N > BLOCK_VALUES && N >= 128)
    return columnBlocks(backend, original, a, b);
  const key = `${K}x${N}`;
  const seen = rightShapes.get(b.dataId);
  let own: tf.TensorInfo | undefined;
  // A streamed weight as the packed operand goes through a copy, so XNNPACK's packing of it is freed with
  // the copy instead of living (invisible to the heap budget) as long as the weight is resident.
  if (streamed.has(b.dataId) || (seen !== undefined && seen !== key))
    own = operand(backend, b, 0, K, N, false);
  else rightShapes.set(b.dataId, key);
  try {
    return xnnProduct(backend, original, a, own ?? b, b.dataId);
  } finally {
    if (own) release(backend, own);
  }
}

/** [1, M, K]·[1, K, N] with `b` taken in blocks of columns (each copied out, multiplied, and put in place). */
function columnBlocks(
  backend: WasmBackendLike,
  original: Kernel,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
): tf.TensorInfo {
  const [, M] = a.shape;
  const [, K, N] = b.shape;
  const blocks = Math.ceil((K * N) / BLOCK_VALUES);
  const width = Math.ceil(N / blocks / 8) * 8;
  const out = backend.makeOutput([1, M, N], "float32");
  for (let j0 = 0; j0 < N; j0 += width) {
    const w = Math.min(width, N - j0);
    const block = backend.makeOutput([1, K, w], "float32");
    // Views are taken after each allocation: a growing heap detaches the older ones.
    let src = backend.typedArrayFromHeap(b) as Float32Array;
    let dst = backend.typedArrayFromHeap(block) as Float32Array;
    for (let k = 0; k < K; k++) dst.set(src.subarray(k * N + j0, k * N + j0 + w), k * w);
    const prod = xnnProduct(backend, original, a, block, b.dataId);
    src = backend.typedArrayFromHeap(prod) as Float32Array;
    dst = backend.typedArrayFromHeap(out) as Float32Array;
    for (let i = 0; i < M; i++) dst.set(src.subarray(i * w, (i + 1) * w), i * N + j0);
    release(backend, block, prod);
  }
  return out;
}

/**
 * The original kernel on [1, M, K]·[1, K, N], untransposed. XNNPACK packs its right operand in memory of its
 * own, outside the tensors the heap budget counts: when that fails, the cached weights this product does not
 * read (`source`: the data `b` was taken from) make room and it runs again; then one clear error.
 */
function xnnProduct(
  backend: WasmBackendLike,
  original: Kernel,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  source: object,
): tf.TensorInfo {
  const product = () =>
    original({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
  let out = product();
  let failed = takeXnnFailure();
  if (failed?.status === 6 && relieveWasmHeap(new Set([...kernelInputs, a.dataId, b.dataId, source]))) {
    release(backend, out);
    out = product();
    failed = takeXnnFailure();
  }
  if (failed) {
    release(backend, out);
    throw xnnError(
      failed,
      guardedLiveBytes() ?? 0,
      backend.wasm.HEAPU8.buffer.byteLength,
      `a [${a.shape[1]}, ${a.shape[2]}]·[${b.shape[1]}, ${b.shape[2]}] product`,
    );
  }
  return out;
}

/** The data ids the BatchMatMul kernel now running reads (its operands stay when the heap is relieved). */
let kernelInputs: object[] = [];

/** Transposed copies of large right operands, keyed by the source's data id (valid while it is alive). */
const cache = new Map<object, Cached>();
let cachedBytes = 0;
/** Transposes smaller than this are not cached (activations, small weights). */
const CACHE_MIN_VALUES = 1 << 18;
/**
 * A product with at most this many rows (decoding: one row per sequence) against a large W transposes W
 * once and keeps it: XNNPACK then streams its packed copy (18 ms for the [151936, 512] lm_head here)
 * instead of running (W·xᵀ)ᵀ as a one-column product (38 ms) on every token.
 */
const FEW_ROWS = 16;
/** At most this much heap is held by cached transposes; the oldest go first. */
const CACHE_MAX_BYTES = 768 * 2 ** 20;

function sweep(backend: WasmBackendLike): void {
  for (const [dataId, c] of cache)
    if (!backend.dataIdMap.has(dataId)) {
      backend.disposeData(c.info.dataId, true);
      cachedBytes -= c.bytes;
      cache.delete(dataId);
    }
}

function remember(backend: WasmBackendLike, dataId: object, info: tf.TensorInfo): void {
  const bytes = 4 * info.shape.reduce((a, b) => a * b, 1);
  if (bytes > CACHE_MAX_BYTES) return;
  while (cachedBytes + bytes > CACHE_MAX_BYTES && cache.size > 0) {
    const [oldest, c] = cache.entries().next().value as [object, Cached];
    backend.disposeData(c.info.dataId, true);
    cachedBytes -= c.bytes;
    cache.delete(oldest);
  }
  cache.set(dataId, { info, bytes }); // the cache owns `info` from here on
  cachedBytes += bytes;
}

/**
 * Whether `dataId` is a variable's (a weight's): only those are worth a cached transpose. An activation is
 * a right operand once or twice and its cached transpose would live, uncounted by the heap budget, as long
 * as the gradient tape holds the activation.
 */
function isVariableData(dataId: object): boolean {
  const vars = (tf.engine() as unknown as { registeredVariables: Record<string, tf.Variable> })
    .registeredVariables;
  for (const name in vars) if (vars[name].dataId === dataId) return true;
  return false;
}

/** Frees every cached transpose (tests; or to give the heap back). */
export function clearMatMulCache(backend: unknown): void {
  const b = backend as WasmBackendLike;
  for (const c of cache.values()) b.disposeData(c.info.dataId, true);
  cache.clear();
  cachedBytes = 0;
}

/** A [1, rows, cols] tensor holding `src[offset …]` transposed (`transpose`) or copied. */
function operand(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  offset: number,
  rows: number,
  cols: number,
  transpose: boolean,
): tf.TensorInfo {
  const out = backend.makeOutput([1, rows, cols], "float32");
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  if (transpose) transposeArray(src.subarray(offset, offset + rows * cols), dst, [cols, rows], [1, 0]);
  else dst.set(src.subarray(offset, offset + rows * cols));
  return out;
}

function release(backend: WasmBackendLike, ...infos: tf.TensorInfo[]): void {
  for (const i of infos) backend.disposeData(i.dataId);
}

export function makeWasmBatchMatMul(original: Kernel): Kernel {
  const batchMatMul = routedBatchMatMul(original);
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const outer = kernelInputs;
    kernelInputs = [...outer, a.dataId, b.dataId];
    try {
      return batchMatMul(args);
    } finally {
      kernelInputs = outer;
    }
  };
}

function routedBatchMatMul(original: Kernel): Kernel {
  return (args) => {
    const backend = args.backend as WasmBackendLike;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const ra = a.shape.length;
    const rb = b.shape.length;
    const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batch = Math.max(batchA, batchB);
    const plain = !transposeA && !transposeB;
    // Already XNNPACK's case, or a product with nothing to gain (or a shape error for the original to report).
    if (M * N * K === 0 || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return original(args);
    if (plain && batch === 1 && K >= LONG_K && Math.min(M, N) >= 16) {
      const out = longKMatMul(backend, original, a, b, M, K, N);
      return { ...out, shape: [...(ra >= rb ? a.shape : b.shape).slice(0, -2), M, N] };
    }
    if (plain && batch === 1) {
      const out = runPlain(backend, original, { ...a, shape: [1, M, K] }, { ...b, shape: [1, K, N] });
      return { ...out, shape: [...(ra >= rb ? a.shape : b.shape).slice(0, -2), M, N] };
    }
    sweep(backend);
    const lead = (batchA >= batchB ? a.shape : b.shape).slice(0, -2);
    // x·Wᵀ with one shared W: x rows can be stacked (batchB = 1) into one 2D product.
    if (!transposeA && batchB === 1 && batch > 1) {
      const a2 = { dataId: a.dataId, shape: [1, batchA * M, K], dtype: a.dtype };
      const out = matMul2D(backend, original, a2, b, batchA * M, K, N, false, transposeB, 0, 0);
      return { ...out, shape: [...lead, M, N] };
    }
    if (batch === 1) {
      const out = matMul2D(backend, original, a, b, M, K, N, transposeA, transposeB, 0, 0);
      return { ...out, shape: [...lead, M, N] };
    }
    // Batched: one 2D product per batch entry, written into one output.
    const out = backend.makeOutput([...lead, M, N], "float32");
    for (let i = 0; i < batch; i++) {
      const r = matMul2D(
        backend,
        original,
        a,
        b,
        M,
        K,
        N,
        transposeA,
        transposeB,
        batchA === 1 ? 0 : i * M * K,
        batchB === 1 ? 0 : i * K * N,
      );
      const dst = backend.typedArrayFromHeap(out) as Float32Array;
      dst.set(backend.typedArrayFromHeap(r) as Float32Array, i * M * N);
      release(backend, r);
    }
    return out;
  };
}

/**
 * Past this K a plain product is split along K. XNNPACK does not block K: it streams the whole packed
 * right operand once per few rows of the left one, so [128, 151936]·[151936, 512] (the tied lm_head's
 * input gradient) read its 311 MB packed weight ~32 times and packed all of it first: 1.0–1.5 s. In
 * blocks of K the packed block stays in cache and the smaller of the two operands is the one packed.
 */
const LONG_K = 16384;

/** [M, K]·[K, N], both whole and untransposed, as a sum over K blocks; output [1, M, N]. */
function longKMatMul(
  backend: WasmBackendLike,
  original: Kernel,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  M: number,
  K: number,
  N: number,
): tf.TensorInfo {
  // XNNPACK packs its right operand: make that the side with the fewer columns. Packing M (a's rows)
  // means computing the transposed product, outᵀ[N, M] = Σ b[Kj, :]ᵀ · a[:, Kj]ᵀ.
  const packA = M < N;
  const P = packA ? M : N; // columns of each block product
  const Q = packA ? N : M; // rows of each block product
  const c = Math.max(512, Math.min(8192, Math.floor(2 ** 18 / P / 64) * 64)); // ~1 MB packed per block
  const acc = new Float32Array(M * N);
  for (let k0 = 0; k0 < K; k0 += c) {
    const w = Math.min(c, K - k0);
    const left = backend.makeOutput([1, Q, w], "float32");
    const right = backend.makeOutput([1, w, P], "float32");
    const A = backend.typedArrayFromHeap(a) as Float32Array;
    const B = backend.typedArrayFromHeap(b) as Float32Array;
    const L = backend.typedArrayFromHeap(left) as Float32Array;
    const R = backend.typedArrayFromHeap(right) as Float32Array;
    if (packA) {
      transposeArray(B.subarray(k0 * N, (k0 + w) * N), L, [w, N], [1, 0]); // b[Kj, :]ᵀ: [N, w]
      columnsTransposed(A, M, K, k0, w, R); // a[:, Kj]ᵀ: [w, M]
    } else {
      for (let i = 0; i < M; i++) L.set(A.subarray(i * K + k0, i * K + k0 + w), i * w); // a[:, Kj]: [M, w]
      R.set(B.subarray(k0 * N, (k0 + w) * N)); // b[Kj, :]: [w, N]
    }
    const prod = runPlain(backend, original, left, right); // [1, Q, P]
    const out = backend.typedArrayFromHeap(prod) as Float32Array;
    for (let i = 0; i < acc.length; i++) acc[i] += out[i];
    release(backend, left, right, prod);
  }
  const result = backend.makeOutput([1, M, N], "float32");
  const dst = backend.typedArrayFromHeap(result) as Float32Array;
  if (packA) transposeArray(acc, dst, [N, M], [1, 0]);
  else dst.set(acc);
  return result;
}

/** dst [w, rows] = src[:, k0 : k0 + w]ᵀ for src [rows, cols] row-major. */
function columnsTransposed(
  src: Float32Array,
  rows: number,
  cols: number,
  k0: number,
  w: number,
  dst: Float32Array,
): void {
  for (let i = 0; i < rows; i++) {
    const from = i * cols + k0;
    for (let k = 0; k < w; k++) dst[k * rows + i] = src[from + k];
  }
}

/** One [M, K]·[K, N] product from (possibly transposed) operands at the given offsets; output [1, M, N]. */
function matMul2D(
  backend: WasmBackendLike,
  original: Kernel,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  M: number,
  K: number,
  N: number,
  transposeA: boolean,
  transposeB: boolean,
  offsetA: number,
  offsetB: number,
): tf.TensorInfo {
  const aSize = a.shape.reduce((x, y) => x * y, 1);
  const bSize = b.shape.reduce((x, y) => x * y, 1);
  const wholeA = offsetA === 0 && aSize === M * K;
  const wholeB = offsetB === 0 && bSize === K * N;
  const run = (x: tf.TensorInfo, y: tf.TensorInfo) => runPlain(backend, original, x, y);
  const as3d = (x: tf.TensorInfo, rows: number, cols: number) => ({
    dataId: x.dataId,
    shape: [1, rows, cols],
    dtype: x.dtype,
  });

  let bT: tf.TensorInfo | undefined;
  let ownB = false;
  if (transposeB) {
    const isStreamed = streamed.has(b.dataId);
    const cheaper = 2 * M * K + M * N < 2 * K * N; // transposing x and the output beats transposing W
    const fewRows = M <= FEW_ROWS;
    const hit = wholeB ? cache.get(b.dataId) : undefined;
    if (hit) bT = hit.info;
    else if (
      wholeB &&
      !transposeA &&
      (isStreamed ? fewRows || cheaper : cheaper && !(fewRows && K * N >= CACHE_MIN_VALUES))
    ) {
      // (W·xᵀ)ᵀ: transposing x and the small output beats transposing (and packing) a large W.
      const aT = wholeA ? operand(backend, a, 0, K, M, true) : operand(backend, a, offsetA, K, M, true);
      const prod = run(as3d(b, N, K), aT); // [1, N, M]
      const out = backend.makeOutput([1, M, N], "float32");
      transposeArray(
        backend.typedArrayFromHeap(prod) as NumericArray,
        backend.typedArrayFromHeap(out) as NumericArray,
        [N, M],
        [1, 0],
      );
      release(backend, aT, prod);
      return out;
    } else {
      bT = operand(backend, b, offsetB, K, N, true);
      if (wholeB && K * N >= CACHE_MIN_VALUES && !isStreamed && isVariableData(b.dataId))
        remember(backend, b.dataId, bT);
      else ownB = true;
    }
  }
  const bArg = bT ?? (wholeB ? as3d(b, K, N) : operand(backend, b, offsetB, K, N, false));
  const ownBArg = ownB || (!bT && !wholeB);
  const aArg = transposeA
    ? operand(backend, a, offsetA, M, K, true)
    : wholeA
      ? as3d(a, M, K)
      : operand(backend, a, offsetA, M, K, false);
  const ownA = transposeA || !wholeA;
  const out = run(aArg, bArg);
  if (ownA) release(backend, aArg);
  if (ownBArg) release(backend, bArg);
  return out;
}
