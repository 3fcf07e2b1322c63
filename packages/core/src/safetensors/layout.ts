// Plans a safetensors file from names, dtypes and shapes alone — no data needed — so the header can be
// written first and tensors streamed after it. The layout is the Rust writer's, byte for byte:
// tensors sorted by dtype (wider first, in the Rust enum's order) then by name, compact JSON with
// `__metadata__` first, padded with spaces to a multiple of 8 bytes.

import { LlavaError } from "../errors.js";
import { compareForWrite, dtypeSize, numElements, type SafetensorsDtype } from "./dtype.js";
import type { TensorInfo } from "./header.js";

/** What the header needs to know about one tensor. */
export interface TensorSpec {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
}

export interface FileLayout {
  /** The 8-byte length prefix followed by the padded JSON header. */
  headerBytes: Uint8Array;
  /** Tensors in the order their data follows the header. */
  tensors: TensorInfo[];
  /** Total file size in bytes. */
  fileSize: number;
}

/**
 * Lays out a file. `metadata` keys are written sorted (the Rust writer uses a HashMap, so any order is
 * valid; sorting makes ours reproducible). Without `metadata` the header has no `__metadata__`.
 */
export function planFile(specs: readonly TensorSpec[], metadata?: Record<string, string>): FileLayout {
  const seen = new Set<string>();
  for (const s of specs) {
    if (s.name === "__metadata__") throw new LlavaError('a tensor cannot be named "__metadata__"');
    if (seen.has(s.name)) throw new LlavaError(`tensor "${s.name}" appears twice`);
    seen.add(s.name);
  }
  const ordered = [...specs].sort(compareForWrite);

  const parts: string[] = [];
  if (metadata) {
    const keys = Object.keys(metadata).sort();
    for (const k of keys) {
      if (typeof metadata[k] !== "string") throw new LlavaError(`metadata["${k}"] must be a string`);
    }
    parts.push(
      `"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(",")}}`,
    );
  }
  const infos: TensorInfo[] = [];
  let offset = 0;
  for (const s of ordered) {
    const byteLength = numElements(s.shape) * dtypeSize(s.dtype);
    const offsets: [number, number] = [offset, offset + byteLength];
    offset += byteLength;
    // Built by hand: JSON.stringify of an object would move integer-like names ("0") to the front.
    parts.push(
      `${JSON.stringify(s.name)}:{"dtype":"${s.dtype}","shape":[${s.shape.join(",")}],"data_offsets":[${offsets}]}`,
    );
    infos.push({
      name: s.name,
      dtype: s.dtype,
      shape: [...s.shape],
      byteLength,
      offsets,
      fileOffsets: [0, 0],
    });
  }

  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const padded = json.byteLength + ((8 - (json.byteLength % 8)) % 8);
  const headerBytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(headerBytes.buffer).setBigUint64(0, BigInt(padded), true);
  headerBytes.set(json, 8);
  for (const t of infos)
    t.fileOffsets = [headerBytes.byteLength + t.offsets[0], headerBytes.byteLength + t.offsets[1]];
  return { headerBytes, tensors: infos, fileSize: headerBytes.byteLength + offset };
}
