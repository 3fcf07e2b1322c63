// A parameter's values outside the wasm heap, in their stored dtype: a tensor of a safetensors shard (read
// with pread on demand; the OS page cache is its host memory) or bytes held in process memory (weights with
// no file: built or merged in memory). Widened to float32 only when they enter the heap.
import { LlavaError } from "../errors.js";
import { bf16Into, f16Into, float32ToBf16, float32ToF16 } from "../safetensors/half.js";
import { checkFinite, type FiniteCheck } from "../safetensors/non-finite.js";
import type { SafetensorsSource } from "../safetensors/safetensors-file.js";

/** The stored dtypes a host tensor can hold: float formats that widen exactly (F32 as is) to float32. */
export type HostDtype = "F32" | "F16" | "BF16";

const BYTES: Record<HostDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export function isHostDtype(d: string): d is HostDtype {
  return d === "F32" || d === "F16" || d === "BF16";
}

/** Values kept outside the heap; rows are slices along the first dimension. */
export interface HostTensor {
  readonly dtype: HostDtype;
  readonly shape: readonly number[];
  /** Bytes this object keeps in process memory (0 for a tensor read from its file on demand). */
  readonly heldBytes: number;
  /** Where the values come from, for error messages. */
  readonly origin: string;
  /** The stored bytes of rows [start, start + count) (all rows when omitted), into `into` when given. */
  readRaw(start?: number, count?: number, into?: Uint8Array): Uint8Array;
}

export function rowValues(shape: readonly number[]): number {
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

export function hostSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes of `shape` in `dtype`. */
export function hostBytes(shape: readonly number[], dtype: HostDtype): number {
  return hostSize(shape) * BYTES[dtype];
}

function rowRange(t: HostTensor, start = 0, count = (t.shape[0] ?? 1) - start): [number, number] {
  const rows = t.shape.length ? t.shape[0] : 1;
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > rows)
    throw new LlavaError(`${t.origin}: rows [${start}, ${start + count}) are outside [0, ${rows})`);
  const rowBytes = rowValues(t.shape) * BYTES[t.dtype];
  return [start * rowBytes, count * rowBytes];
}

/** One tensor of an open safetensors checkpoint; reads go to the file each time. */
export class FileTensor implements HostTensor {
  readonly heldBytes = 0;
  readonly dtype: HostDtype;
  readonly shape: readonly number[];
  constructor(
    private readonly file: SafetensorsSource,
    readonly name: string,
  ) {
    const info = file.info(name);
    if (!isHostDtype(info.dtype))
      throw new LlavaError(
        `${file.path}: tensor "${name}" is ${info.dtype}; only F32, F16 and BF16 weights can stay outside the heap`,
      );
    this.dtype = info.dtype;
    this.shape = info.shape;
  }
  get origin(): string {
    return `${this.file.path}: tensor "${this.name}"`;
  }
  readRaw(start?: number, count?: number, into?: Uint8Array): Uint8Array {
    const [offset, length] = rowRange(this, start, count);
    return this.file.readRange(this.name, offset, length, into);
  }
}

/** Values held in process memory in `dtype` (2 bytes a value for BF16 / F16). */
export class BytesTensor implements HostTensor {
  constructor(
    readonly dtype: HostDtype,
    readonly shape: readonly number[],
    private readonly bytes: Uint8Array,
    readonly origin = "host memory",
  ) {
    if (bytes.byteLength !== hostBytes(shape, dtype))
      throw new LlavaError(
        `${origin}: ${bytes.byteLength} bytes do not hold a ${dtype} tensor of shape [${shape}]`,
      );
  }
  get heldBytes(): number {
    return this.bytes.byteLength;
  }
  readRaw(start?: number, count?: number, into?: Uint8Array): Uint8Array {
    const [offset, length] = rowRange(this, start, count);
    const view = this.bytes.subarray(offset, offset + length);
    if (!into) return view;
    into.set(view);
    return into.subarray(0, length);
  }

  /** float32 values narrowed (round to nearest even, as torch) to `dtype` and held here. */
  static fromFloat32(values: Float32Array, shape: readonly number[], dtype: HostDtype, origin?: string) {
    const bytes =
      dtype === "F32"
        ? new Uint8Array(values.slice().buffer)
        : new Uint8Array((dtype === "BF16" ? float32ToBf16(values) : float32ToF16(values)).buffer);
    return new BytesTensor(dtype, shape, bytes, origin);
  }
}

// Widening goes through a bounded scratch buffer, so a 545 MB table never needs a second whole copy.
const SCRATCH_VALUES = 1 << 22;
let scratch: Uint16Array | undefined;

/** Rows [start, start + count) of `t` widened into `out` (float32, e.g. a tensor's heap memory). */
export function readFloat32Into(t: HostTensor, out: Float32Array, start = 0, count?: number): void {
  const rows = t.shape.length ? t.shape[0] : 1;
  const n = count ?? rows - start;
  const perRow = rowValues(t.shape);
  if (out.length < n * perRow)
    throw new LlavaError(`${t.origin}: ${n} rows need ${n * perRow} values, the buffer has ${out.length}`);
  if (t.dtype === "F32") {
    t.readRaw(start, n, new Uint8Array(out.buffer, out.byteOffset, n * perRow * 4));
    checkFinite(out.subarray(0, n * perRow), finiteCheck(t, rows, start, n));
    return;
  }
  scratch ??= new Uint16Array(SCRATCH_VALUES);
  const step = Math.max(1, Math.floor(SCRATCH_VALUES / Math.max(1, perRow)));
  for (let r = 0; r < n; r += step) {
    const k = Math.min(step, n - r);
    if (k * perRow > scratch.length) scratch = new Uint16Array(k * perRow);
    const raw = t.readRaw(start + r, k, new Uint8Array(scratch.buffer, 0, k * perRow * 2));
    const halves = new Uint16Array(raw.buffer, raw.byteOffset, k * perRow);
    (t.dtype === "BF16" ? bf16Into : f16Into)(halves, out, r * perRow);
  }
  checkFinite(out.subarray(0, n * perRow), finiteCheck(t, rows, start, n));
}

/** Rows [start, start + n) of `t` for the non-finite check: file tensors by name, in-memory ones by object. */
function finiteCheck(t: HostTensor, rows: number, start: number, n: number): FiniteCheck {
  return { key: t instanceof FileTensor ? t.origin : t, origin: t.origin, totalRows: rows, start, rows: n };
}

/** All of `t` as a fresh Float32Array. */
export function readFloat32(t: HostTensor): Float32Array {
  const out = new Float32Array(hostSize(t.shape));
  readFloat32Into(t, out);
  return out;
}
