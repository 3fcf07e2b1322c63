// Streaming writer for one .safetensors file: the header is planned from names, dtypes and shapes,
// then each entry's `read()` is awaited and written before the next is asked for, so at most one
// tensor's data is in memory. The file appears under its name only once complete (temp + rename).

import { nodeBuiltin } from "@llava-ts/files";
import * as tf from "@tensorflow/tfjs-core";
import { LlavaError } from "../errors.js";
import type { LoadedDtype, SafetensorsDtype } from "./dtype.js";
import { isSafetensorsDtype } from "./dtype.js";
import { checkEncodedLength, encodeTensor, type WritableArray } from "./encode.js";
import type { TensorInfo } from "./header.js";
import { writeAll } from "./io.js";
import { planFile, type TensorSpec } from "./layout.js";

/** One tensor to write: its header fields now, its data only when `read()` is called. */
export interface TensorEntry extends TensorSpec {
  /** Values in any array `encodeTensor` accepts for `dtype`; a Uint8Array is taken as raw bytes. */
  read: () => WritableArray | Promise<WritableArray>;
}

export interface WrittenFile {
  path: string;
  /** Tensors in file order, with their offsets. */
  tensors: TensorInfo[];
  fileSize: number;
}

/**
 * Writes `entries` to `path` in the Rust writer's layout (sorted by dtype width, then name; see
 * layout.ts). `metadata` becomes `__metadata__`; omit it for a header without one.
 */
export async function writeSafetensors(
  path: string,
  entries: readonly TensorEntry[],
  metadata?: Record<string, string>,
): Promise<WrittenFile> {
  const { closeSync, openSync, renameSync, rmSync } = nodeBuiltin("node:fs", `writing ${path}`);
  const layout = planFile(entries, metadata);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number | undefined = openSync(tmp, "w");
  try {
    writeAll(fd, layout.headerBytes);
    for (const t of layout.tensors) {
      const entry = byName.get(t.name)!;
      const bytes = encodeTensor(await entry.read(), t.dtype, t.name);
      checkEncodedLength(bytes, t.dtype, t.byteLength, t.name);
      writeAll(fd, bytes);
    }
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  return { path, tensors: layout.tensors, fileSize: layout.fileSize };
}

/**
 * The bytes of the file `writeSafetensors` would write, in memory (a browser saving an adapter for
 * download; no file system needed).
 */
export async function encodeSafetensors(
  entries: readonly TensorEntry[],
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const layout = planFile(entries, metadata);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const out = new Uint8Array(layout.fileSize);
  out.set(layout.headerBytes, 0);
  for (const t of layout.tensors) {
    const bytes = encodeTensor(await byName.get(t.name)!.read(), t.dtype, t.name);
    checkEncodedLength(bytes, t.dtype, t.byteLength, t.name);
    out.set(bytes, t.fileOffsets[0]);
  }
  return out;
}

/** A tensor's values without tfjs: `dtype` is a file dtype ("BF16", "I64", ...) or a tfjs dtype. */
export interface PlainTensor {
  dtype: SafetensorsDtype | LoadedDtype;
  shape: readonly number[];
  data: WritableArray;
}

export interface EntryOptions {
  /** File dtype for float32 values (tf float32 tensors, PlainTensor "float32"); default "F32". */
  floatDtype?: "F32" | "F16" | "BF16";
}

const FROM_TF: Record<string, SafetensorsDtype> = { int32: "I32", bool: "BOOL" };

/** Turns a record of tf tensors and/or plain arrays into writer entries; tf data is read lazily, so keep the tensors alive until written. */
export function tensorEntries(
  tensors: Record<string, tf.Tensor | PlainTensor>,
  options: EntryOptions = {},
): TensorEntry[] {
  const floatDtype = options.floatDtype ?? "F32";
  return Object.entries(tensors).map(([name, t]) => {
    const dtype =
      t.dtype === "float32" ? floatDtype : isSafetensorsDtype(t.dtype) ? t.dtype : FROM_TF[t.dtype];
    if (!dtype) throw new LlavaError(`tensor "${name}": dtype ${t.dtype} cannot be saved to safetensors`);
    if (t instanceof tf.Tensor) {
      if (t.isDisposed) throw new LlavaError(`tensor "${name}" is disposed`);
      return { name, dtype, shape: t.shape, read: () => t.data() as Promise<WritableArray> };
    }
    return { name, dtype, shape: t.shape, read: () => t.data };
  });
}

/** Writes a record of tensors to one file; float32 is stored as F32 unless `floatDtype` narrows it. */
export function saveSafetensors(
  path: string,
  tensors: Record<string, tf.Tensor | PlainTensor>,
  metadata?: Record<string, string>,
  options: EntryOptions = {},
): Promise<WrittenFile> {
  return writeSafetensors(path, tensorEntries(tensors, options), metadata);
}
