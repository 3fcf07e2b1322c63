// The safetensors dtypes: element sizes, the tfjs dtype each widens to, and the order the Rust
// writer sorts them in (so our files are byte-identical to `safetensors.torch.save_file`).

/** Every dtype the safetensors format defines with a whole-byte element size. */
export type SafetensorsDtype =
  | "BOOL"
  | "U8"
  | "I8"
  | "F8_E5M2"
  | "F8_E4M3"
  | "I16"
  | "U16"
  | "F16"
  | "BF16"
  | "I32"
  | "U32"
  | "F32"
  | "F64"
  | "I64"
  | "U64";

/** The tfjs dtype a safetensors tensor becomes when read. */
export type LoadedDtype = "float32" | "int32" | "bool";

interface DtypeInfo {
  /** Bytes per element. */
  size: number;
  /** Position in the Rust `Dtype` enum; the writer sorts by it descending, then by name. */
  rank: number;
  /** What `read()` widens it to, or undefined when tfjs has no lossless home for it. */
  loaded?: LoadedDtype;
}

// Declared in the Rust enum's order (safetensors/src/tensor.rs), which is what `rank` encodes.
const TABLE: Record<SafetensorsDtype, Omit<DtypeInfo, "rank">> = {
  BOOL: { size: 1, loaded: "bool" },
  U8: { size: 1, loaded: "int32" },
  I8: { size: 1, loaded: "int32" },
  F8_E5M2: { size: 1 },
  F8_E4M3: { size: 1 },
  I16: { size: 2, loaded: "int32" },
  U16: { size: 2, loaded: "int32" },
  F16: { size: 2, loaded: "float32" },
  BF16: { size: 2, loaded: "float32" },
  I32: { size: 4, loaded: "int32" },
  U32: { size: 4, loaded: "int32" },
  F32: { size: 4, loaded: "float32" },
  F64: { size: 8, loaded: "float32" },
  I64: { size: 8, loaded: "int32" },
  U64: { size: 8, loaded: "int32" },
};

const INFO: ReadonlyMap<string, DtypeInfo> = new Map(
  (Object.keys(TABLE) as SafetensorsDtype[]).map((d, rank) => [d, { ...TABLE[d], rank }]),
);

export const SAFETENSORS_DTYPES: readonly SafetensorsDtype[] = Object.keys(TABLE) as SafetensorsDtype[];

export function isSafetensorsDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === "string" && INFO.has(x);
}

/** Bytes per element of a safetensors dtype. */
export function dtypeSize(dtype: SafetensorsDtype): number {
  return INFO.get(dtype)!.size;
}

/** The tfjs dtype `read()` produces for this safetensors dtype (undefined for the FP8 formats). */
export function loadedDtype(dtype: SafetensorsDtype): LoadedDtype | undefined {
  return INFO.get(dtype)!.loaded;
}

/** Rust safetensors' write order: larger alignment first (by enum position, descending), then name bytes. */
export function compareForWrite(
  a: { name: string; dtype: SafetensorsDtype },
  b: { name: string; dtype: SafetensorsDtype },
): number {
  const byDtype = INFO.get(b.dtype)!.rank - INFO.get(a.dtype)!.rank;
  if (byDtype !== 0) return byDtype;
  // Rust compares Strings by UTF-8 bytes, which differs from JS's UTF-16 order beyond the BMP.
  return compareUtf8(a.name, b.name);
}

const utf8 = new TextEncoder();

/** Orders strings by their UTF-8 bytes (Rust's and Python's str order), not JS's UTF-16 units. */
export function compareUtf8(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** Product of the dimensions (1 for a scalar); throws on a dimension that is not a non-negative integer. */
export function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`bad dimension ${d} in shape [${shape}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new RangeError(`shape [${shape}] has too many elements`);
  return n;
}
