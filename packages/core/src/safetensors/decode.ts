// Raw little-endian tensor bytes -> the typed array tfjs takes: floats widen (or narrow, F64) to
// float32, integers become int32 (refusing values that do not fit), BOOL stays one byte per value.

import { FormatError } from "../errors.js";
import { dtypeSize, type LoadedDtype, loadedDtype, type SafetensorsDtype } from "./dtype.js";
import { bf16ToFloat32, f16ToFloat32 } from "./half.js";

export type LoadedArray = Float32Array | Int32Array | Uint8Array;

/** A tensor's values as tfjs wants them; `data` is row-major over `shape`. */
export interface TensorData {
  shape: number[];
  dtype: LoadedDtype;
  data: LoadedArray;
}

/** Where the bytes came from, for error messages. */
export interface DecodeContext {
  file?: string;
  tensor?: string;
}

// Typed-array views reinterpret bytes in host order; safetensors is little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The same bytes, copied only if the offset does not allow a typed-array view of `size`-byte elements. */
export function alignedBytes(raw: Uint8Array, size: number): Uint8Array {
  return raw.byteOffset % size === 0 ? raw : raw.slice();
}

function view<T>(raw: Uint8Array, size: number, Ctor: new (b: ArrayBuffer, o: number, n: number) => T): T {
  const a = alignedBytes(raw, size);
  return new Ctor(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength / size);
}

/** Decodes one tensor's bytes; F32, I32, U32 and BOOL results are views on `raw` (no copy). */
export function decodeTensor(
  raw: Uint8Array,
  dtype: SafetensorsDtype,
  ctx: DecodeContext = {},
): { dtype: LoadedDtype; data: LoadedArray } {
  if (!LITTLE_ENDIAN) throw new FormatError("big-endian hosts are not supported", ctx.file, ctx.tensor);
  const size = dtypeSize(dtype);
  if (raw.byteLength % size !== 0)
    throw new FormatError(
      `${raw.byteLength} bytes is not a whole number of ${dtype} values`,
      ctx.file,
      ctx.tensor,
    );
  switch (dtype) {
    case "F32":
      return { dtype: "float32", data: view(raw, 4, Float32Array) };
    case "F64":
      return { dtype: "float32", data: Float32Array.from(view(raw, 8, Float64Array)) };
    case "F16":
      return { dtype: "float32", data: f16ToFloat32(view(raw, 2, Uint16Array)) };
    case "BF16":
      return { dtype: "float32", data: bf16ToFloat32(view(raw, 2, Uint16Array)) };
    case "I32":
      return { dtype: "int32", data: view(raw, 4, Int32Array) };
    case "I16":
      return { dtype: "int32", data: Int32Array.from(view(raw, 2, Int16Array)) };
    case "U16":
      return { dtype: "int32", data: Int32Array.from(view(raw, 2, Uint16Array)) };
    case "I8":
      return { dtype: "int32", data: Int32Array.from(view(raw, 1, Int8Array)) };
    case "U8":
      return { dtype: "int32", data: Int32Array.from(raw) };
    case "BOOL":
      return { dtype: "bool", data: raw };
    case "I64":
    case "U64":
      return { dtype: "int32", data: narrow64(view(raw, 4, Int32Array), dtype === "U64", ctx) };
    case "U32": {
      const u = view(raw, 4, Uint32Array);
      const bad = u.findIndex((x) => x > 0x7fffffff);
      if (bad >= 0) throw outOfRange(String(u[bad]), bad, dtype, ctx);
      return { dtype: "int32", data: new Int32Array(u.buffer, u.byteOffset, u.length) };
    }
    default:
      throw new FormatError(
        `${dtype} cannot be converted to a tfjs dtype (${loadedDtype(dtype) ?? "none"}); use readRaw()`,
        ctx.file,
        ctx.tensor,
      );
  }
}

/** 64-bit integers as (low, high) int32 pairs -> int32; in range iff the high word is the low word's sign. */
function narrow64(words: Int32Array, unsigned: boolean, ctx: DecodeContext): Int32Array {
  const n = words.length / 2;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const lo = words[2 * i];
    const hi = words[2 * i + 1];
    if (hi !== lo >> 31 || (unsigned && lo < 0)) {
      const big = new DataView(words.buffer, words.byteOffset + 8 * i, 8);
      const v = unsigned ? big.getBigUint64(0, true) : big.getBigInt64(0, true);
      throw outOfRange(String(v), i, unsigned ? "U64" : "I64", ctx);
    }
    out[i] = lo;
  }
  return out;
}

function outOfRange(value: string, index: number, dtype: string, ctx: DecodeContext): FormatError {
  return new FormatError(
    `${dtype} value ${value} at flat index ${index} does not fit int32 (tfjs has no 64-bit integers); ` +
      "read it with readBigInt64() or readRaw()",
    ctx.file,
    ctx.tensor,
  );
}
