// The safetensors header: 8-byte little-endian length N, then N bytes of JSON
// {"__metadata__": {str: str}?, name: {dtype, shape, data_offsets: [begin, end]}, ...}, then the data,
// whose offsets are relative to its start. Validation follows the Rust reader: offsets must tile the
// data exactly (no gaps, no overlaps, no trailing bytes) and match dtype × shape.

import { FormatError } from "../errors.js";
import type { ByteReader } from "./byte-reader.js";
import { dtypeSize, isSafetensorsDtype, numElements, type SafetensorsDtype } from "./dtype.js";

/** Same limit as the Rust reader: a larger header is a corrupt length, not a real header. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  byteLength: number;
  /** [begin, end) relative to the start of the data section, as written in the header. */
  offsets: [number, number];
  /** [begin, end) in the file. */
  fileOffsets: [number, number];
}

export interface Header {
  /** N, the JSON length including its padding. */
  headerLength: number;
  /** 8 + N: where tensor data starts. */
  dataStart: number;
  /** `__metadata__`, or undefined when the file has none. */
  metadata: Record<string, string> | undefined;
  /** Every tensor, in data order. */
  tensors: TensorInfo[];
}

/** Reads and validates the header of an open file. */
export function readHeader(reader: ByteReader, file: string): Header {
  const prefix = reader.size < 8 ? new Uint8Array(8) : reader.read(0, 8, file);
  const n = headerLength(prefix, reader.size, file);
  return parseHeader(reader.read(8, n, file), reader.size, file);
}

/** The header length N from a file's first 8 bytes, checked against the limit and the file size. */
export function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8)
    throw new FormatError(`file is ${fileSize} bytes, shorter than the 8-byte header length`, file);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw new FormatError(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`, file);
  if (8 + Number(n) > fileSize)
    throw new FormatError(
      `header length ${Number(n)} runs past the end of the file (${fileSize} bytes)`,
      file,
    );
  return Number(n);
}

/** Validates the JSON header bytes of a file of `fileSize` bytes. */
export function parseHeader(json: Uint8Array, fileSize: number, file: string): Header {
  const dataStart = 8 + json.byteLength;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(json);
  } catch {
    throw new FormatError("header is not valid UTF-8", file);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`header is not valid JSON (${(e as Error).message})`, file);
  }
  if (!isPlainObject(parsed)) throw new FormatError("header is not a JSON object", file);

  let metadata: Record<string, string> | undefined;
  const tensors: TensorInfo[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (name === "__metadata__") metadata = checkMetadata(value, file);
    else tensors.push(checkTensor(name, value, dataStart, file));
  }

  const dataLength = fileSize - dataStart;
  for (const t of tensors) {
    if (t.offsets[1] > dataLength)
      throw new FormatError(
        `data_offsets [${t.offsets}] run past the end of the data (${dataLength} bytes): truncated file?`,
        file,
        t.name,
      );
  }
  tensors.sort((a, b) => a.offsets[0] - b.offsets[0] || a.offsets[1] - b.offsets[1]);
  let end = 0;
  let previous: string | undefined;
  for (const t of tensors) {
    const [begin] = t.offsets;
    if (begin < end)
      throw new FormatError(
        `data_offsets [${t.offsets}] overlap tensor "${previous}" (ends at ${end})`,
        file,
        t.name,
      );
    if (begin > end)
      throw new FormatError(
        `data_offsets [${t.offsets}] leave a gap of ${begin - end} bytes after ${previous ? `tensor "${previous}"` : "the header"}`,
        file,
        t.name,
      );
    end = t.offsets[1];
    previous = t.name;
  }
  if (end !== dataLength)
    throw new FormatError(`${dataLength - end} trailing bytes after the last tensor's data`, file);
  return { headerLength: json.byteLength, dataStart, metadata, tensors };
}

function checkMetadata(value: unknown, file: string): Record<string, string> {
  if (!isPlainObject(value)) throw new FormatError("__metadata__ is not a JSON object", file);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string")
      throw new FormatError(`__metadata__["${k}"] is ${JSON.stringify(v)}, not a string`, file);
  }
  return value as Record<string, string>;
}

function checkTensor(name: string, value: unknown, dataStart: number, file: string): TensorInfo {
  const fail = (msg: string) => new FormatError(msg, file, name);
  if (!isPlainObject(value)) throw fail(`entry is ${JSON.stringify(value)}, not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isSafetensorsDtype(dtype)) throw fail(`unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInt))
    throw fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every(isNonNegativeInt) ||
    offsets[0] > offsets[1]
  )
    throw fail(`data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
  let byteLength: number;
  try {
    byteLength = numElements(shape) * dtypeSize(dtype);
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (offsets[1] - offsets[0] !== byteLength)
    throw fail(
      `data_offsets [${offsets}] hold ${offsets[1] - offsets[0]} bytes but ${dtype} [${shape}] needs ${byteLength}`,
    );
  return {
    name,
    dtype,
    shape: [...shape],
    byteLength,
    offsets: [offsets[0], offsets[1]],
    fileOffsets: [dataStart + offsets[0], dataStart + offsets[1]],
  };
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isNonNegativeInt(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}
