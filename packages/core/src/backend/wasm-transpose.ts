// Transposes in JS over the wasm heap. tfjs-backend-wasm's Transpose kernel walks the output element by
// element (~30–50 ns a value here: 2.2 s for the [151936, 512] embedding); copying contiguous runs, or
// 32×32 tiles when the last axis moves, is 10–50× faster. Used by the Transpose kernel and by matmul.
import type * as tf from "@tensorflow/tfjs-core";

export type NumericArray = Float32Array | Int32Array | Uint8Array;

/** The heap-level surface of the wasm backend these kernels use (it is not exported as a type). */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
  readSync(dataId: object): tf.backend_util.BackendValues;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  dataIdMap: { has(dataId: object): boolean };
  wasm: { HEAPU8: Uint8Array };
}

/** Drops size-1 axes and merges axes that stay neighbours, so [B, H, T, D]·[0,2,1,3] becomes [B,H,T·?]… */
export function simplifyPermutation(
  shape: readonly number[],
  perm: readonly number[],
): { shape: number[]; perm: number[] } {
  const keep = perm.filter((a) => shape[a] !== 1);
  // Renumber the kept input axes 0…k-1 in input order.
  const order = [...keep].sort((x, y) => x - y);
  let s = order.map((a) => shape[a]);
  let p = keep.map((a) => order.indexOf(a));
  // Merge output neighbours p[i], p[i+1] when they are input neighbours too.
  for (let i = 0; i + 1 < p.length; ) {
    if (p[i + 1] === p[i] + 1) {
      const a = p[i];
      s = [...s.slice(0, a), s[a] * s[a + 1], ...s.slice(a + 2)];
      p = p.filter((_, j) => j !== i + 1).map((x) => (x > a ? x - 1 : x));
    } else i++;
  }
  return { shape: s, perm: p };
}

/** dst = src transposed by `perm` (both row-major, `shape` the source's). */
export function transposeArray(
  src: NumericArray,
  dst: NumericArray,
  shape: readonly number[],
  perm: readonly number[],
): void {
  const { shape: s, perm: p } = simplifyPermutation(shape, perm);
  const rank = s.length;
  if (rank <= 1) {
    dst.set(src.subarray(0, dst.length));
    return;
  }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * s[i + 1];
  const outShape = p.map((a) => s[a]);
  const last = p[rank - 1];
  if (last === rank - 1) {
    // The innermost axis stays innermost: copy runs of `run` values.
    copyRuns(
      src,
      dst,
      outShape.slice(0, -1),
      p.slice(0, -1).map((a) => strides[a]),
      s[rank - 1],
    );
    return;
  }
  // Otherwise the output's last two axes (from input axes p[r-2], p[r-1]) form a 2D tile transpose,
  // repeated over the outer output axes.
  const rows = outShape[rank - 2];
  const cols = outShape[rank - 1];
  const rowStride = strides[p[rank - 2]];
  const colStride = strides[last];
  const outer = outShape.slice(0, -2);
  const outerStrides = p.slice(0, -2).map((a) => strides[a]);
  const index = new Array<number>(outer.length).fill(0);
  const plane = rows * cols;
  const planes = outer.reduce((a, b) => a * b, 1);
  for (let n = 0; n < planes; n++) {
    let base = 0;
    for (let i = 0; i < outer.length; i++) base += index[i] * outerStrides[i];
    tile(src, dst, base, n * plane, rows, cols, rowStride, colStride);
    for (let i = outer.length - 1; i >= 0; i--) {
      if (++index[i] < outer[i]) break;
      index[i] = 0;
    }
  }
}

const TILE = 64;

/** dst[o + r·cols + c] = src[base + r·rowStride + c·colStride], in TILE×TILE blocks, writing rows. */
function tile(
  src: NumericArray,
  dst: NumericArray,
  base: number,
  o: number,
  rows: number,
  cols: number,
  rowStride: number,
  colStride: number,
): void {
  // Contiguous writes and strided reads measured 2–3× faster than the reverse on the embedding.
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        const d = o + r * cols;
        const s0 = base + r * rowStride;
        for (let c = c0; c < c1; c++) dst[d + c] = src[s0 + c * colStride];
      }
    }
  }
}

function copyRuns(
  src: NumericArray,
  dst: NumericArray,
  outer: number[],
  outerStrides: number[],
  run: number,
): void {
  const index = new Array<number>(outer.length).fill(0);
  const count = outer.reduce((a, b) => a * b, 1);
  for (let n = 0, o = 0; n < count; n++, o += run) {
    let from = 0;
    for (let i = 0; i < outer.length; i++) from += index[i] * outerStrides[i];
    if (run >= 16) dst.set(src.subarray(from, from + run), o);
    else for (let k = 0; k < run; k++) dst[o + k] = src[from + k];
    for (let i = outer.length - 1; i >= 0; i--) {
      if (++index[i] < outer[i]) break;
      index[i] = 0;
    }
  }
}

/** A Transpose kernel for the wasm backend (numeric dtypes). */
export function wasmTranspose(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x } = args.inputs as { x: tf.TensorInfo };
  const perm = (args.attrs as { perm: number[] }).perm;
  const outShape = perm.map((a) => x.shape[a]);
  if (simplifyPermutation(x.shape, perm).perm.length <= 1) {
    // Only size-1 axes move (gather's gradient transposes by [0, 1, …]): same bytes, share them.
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: outShape, dtype: x.dtype };
  }
  const out = backend.makeOutput(outShape, x.dtype);
  if (outShape.every((d) => d > 0))
    transposeArray(
      backend.typedArrayFromHeap(x) as NumericArray,
      backend.typedArrayFromHeap(out) as NumericArray,
      x.shape,
      perm,
    );
  return out;
}

/** Identity without a copy: tensors are immutable, so the output can share the input's data. */
export function wasmIdentity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x } = args.inputs as { x: tf.TensorInfo };
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
