// Typed array -> the little-endian bytes of a safetensors dtype. float32 narrows to F16/BF16 here
// (round-to-nearest-even); a Uint8Array is always taken as the raw bytes of the target dtype, which
// lets a tensor be copied between files without a round trip through float32.

import { LlavaError } from "../errors.js";
import { dtypeSize, type SafetensorsDtype } from "./dtype.js";
import { float32ToBf16, float32ToF16 } from "./half.js";

/** What a writer entry's `read()` may return. */
export type WritableArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Encodes `data` as `dtype`; may return a view on `data` (no copy) when no conversion is needed. */
export function encodeTensor(data: WritableArray, dtype: SafetensorsDtype, name: string): Uint8Array {
  if (data instanceof Uint8Array) return data; // raw bytes (also the values of U8 and BOOL)
  const encoded = convert(data, dtype);
  if (!encoded) throw new LlavaError(`tensor "${name}": cannot write a ${data.constructor.name} as ${dtype}`);
  return encoded;
}

function convert(data: Exclude<WritableArray, Uint8Array>, dtype: SafetensorsDtype): Uint8Array | undefined {
  switch (dtype) {
    case "F32":
      if (data instanceof Float32Array) return bytesOf(data);
      if (data instanceof Float64Array) return bytesOf(Float32Array.from(data));
      return undefined;
    case "F64":
      if (data instanceof Float64Array) return bytesOf(data);
      if (data instanceof Float32Array) return bytesOf(Float64Array.from(data));
      return undefined;
    case "F16":
      if (data instanceof Float32Array) return bytesOf(float32ToF16(data));
      return data instanceof Uint16Array ? bytesOf(data) : undefined; // already half bits
    case "BF16":
      if (data instanceof Float32Array) return bytesOf(float32ToBf16(data));
      return data instanceof Uint16Array ? bytesOf(data) : undefined; // already bf16 bits
    case "I64":
      if (data instanceof BigInt64Array) return bytesOf(data);
      return data instanceof Int32Array ? bytesOf(widenInt32(data)) : undefined;
    case "I32":
      return data instanceof Int32Array ? bytesOf(data) : undefined;
    case "U64":
      return data instanceof BigUint64Array ? bytesOf(data) : undefined;
    case "U32":
      return data instanceof Uint32Array ? bytesOf(data) : undefined;
    case "I16":
      return data instanceof Int16Array ? bytesOf(data) : undefined;
    case "U16":
      return data instanceof Uint16Array ? bytesOf(data) : undefined;
    case "I8":
      return data instanceof Int8Array ? bytesOf(data) : undefined;
    default:
      return undefined;
  }
}

/** int32 -> int64 as (low, sign) word pairs, without going through BigInt. */
function widenInt32(src: Int32Array): Int32Array {
  const out = new Int32Array(src.length * 2);
  for (let i = 0; i < src.length; i++) {
    out[2 * i] = src[i];
    out[2 * i + 1] = src[i] >> 31;
  }
  return out;
}

/** Checks the encoded size against dtype × shape; a mismatch would corrupt every later offset. */
export function checkEncodedLength(
  bytes: Uint8Array,
  dtype: SafetensorsDtype,
  expected: number,
  name: string,
) {
  if (bytes.byteLength !== expected)
    throw new LlavaError(
      `tensor "${name}": read() gave ${bytes.byteLength} bytes (${bytes.byteLength / dtypeSize(dtype)} ${dtype} values) ` +
        `but its shape needs ${expected} bytes`,
    );
}
