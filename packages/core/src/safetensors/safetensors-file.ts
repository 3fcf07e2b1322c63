// One .safetensors file, read lazily: opening reads only the header; each read pulls exactly one
// tensor's bytes through a file handle, so a multi-GB file is never held in memory.

import type { ModelFolder } from "@llava-ts/files";
import * as tf from "@tensorflow/tfjs-core";
import { FormatError, LlavaError } from "../errors.js";
import { type ByteReader, FdReader, FetchedRanges } from "./byte-reader.js";
import { decodeTensor, type TensorData } from "./decode.js";
import { type Header, headerLength, readHeader, type TensorInfo } from "./header.js";
import { checkFinite } from "./non-finite.js";

/** The per-tensor reading API shared by a single file and a (sharded) checkpoint. */
export interface SafetensorsSource {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  keys(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** Shape from the header, without reading data (what the module tree's loader asks for). */
  shape(name: string): number[];
  readRaw(name: string): Uint8Array;
  /** `length` bytes of a tensor's data from byte `start`, into `into` when given. */
  readRange(name: string, start: number, length: number, into?: Uint8Array): Uint8Array;
  read(name: string): TensorData;
  readBigInt64(name: string): BigInt64Array;
  tensor(name: string): tf.Tensor;
  close(): void;
}

export class SafetensorsFile implements SafetensorsSource {
  /** `__metadata__`, or {} when the file has none. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Whether the header had a `__metadata__` entry at all. */
  readonly hasMetadata: boolean;
  /** 8 + header length: where the data section starts. */
  readonly dataStart: number;
  readonly fileSize: number;
  private readonly tensors: Map<string, TensorInfo>;

  private constructor(
    readonly path: string,
    private readonly reader: ByteReader,
    header: Header,
  ) {
    this.fileSize = reader.size;
    this.dataStart = header.dataStart;
    this.hasMetadata = header.metadata !== undefined;
    this.metadata = Object.freeze({ ...header.metadata });
    this.tensors = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** Opens `path` and validates its header; throws FormatError naming the file (and tensor) if corrupt. */
  static open(path: string): SafetensorsFile {
    const reader = new FdReader(path);
    try {
      return new SafetensorsFile(path, reader, readHeader(reader, path));
    } catch (e) {
      reader.close();
      throw e;
    }
  }

  /**
   * File `name` of `folder` (a URL, files in memory): fetches and validates only its header (two range
   * requests); tensors are read after `prefetch` brought their bytes.
   */
  static async fetchHeader(folder: ModelFolder, name: string): Promise<SafetensorsFile> {
    const where = folder.describe(name);
    const reader = new FetchedRanges(folder, name, await folder.size(name));
    const prefix = reader.size < 8 ? new Uint8Array(8) : await folder.read(name, 0, 8);
    const n = headerLength(prefix, reader.size, where);
    reader.hold(0, prefix);
    await reader.fetch(8, 8 + n);
    return new SafetensorsFile(where, reader, readHeader(reader, where));
  }

  /**
   * Fetches the bytes of tensors `names` (files of a ModelFolder; a no-op on disk), `concurrency` range
   * requests at a time. With `release`, each tensor's bytes are dropped once read whole (loading into the
   * heap); without, they stay for reads on use (offloaded weights).
   */
  async prefetch(
    names: Iterable<string>,
    options: { release?: boolean; concurrency?: number } = {},
  ): Promise<void> {
    const reader = this.reader;
    if (!(reader instanceof FetchedRanges)) return;
    reader.setRelease(options.release ?? false);
    const queue = [...names].map((n) => this.info(n));
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift())
        await reader.fetch(t.fileOffsets[0], t.fileOffsets[1]);
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  }

  /** Tensor names in data order. */
  keys(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** dtype, shape, byte length and offsets of one tensor. */
  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new LlavaError(`${this.path}: no tensor "${name}" (the file has ${this.tensors.size})`);
    return t;
  }

  shape(name: string): number[] {
    return [...this.info(name).shape];
  }

  /** The tensor's bytes exactly as stored (little-endian, file dtype), in a fresh aligned buffer. */
  readRaw(name: string): Uint8Array {
    const t = this.info(name);
    return this.reader.read(t.fileOffsets[0], t.byteLength, this.path, name);
  }

  /**
   * `length` bytes of tensor `name` from byte `start` of its data (a few rows of an embedding table, a
   * chunk of a vocabulary-sized matrix), read into `into` when given (e.g. a tensor's heap memory).
   */
  readRange(name: string, start: number, length: number, into?: Uint8Array): Uint8Array {
    const t = this.info(name);
    if (start < 0 || length < 0 || start + length > t.byteLength)
      throw new LlavaError(
        `${this.path}: bytes [${start}, ${start + length}) are outside tensor "${name}" (${t.byteLength} bytes)`,
      );
    return this.reader.read(t.fileOffsets[0] + start, length, this.path, name, into);
  }

  /** Values widened for tfjs: floats -> float32, integers -> int32 (range-checked), BOOL -> bool. */
  read(name: string): TensorData {
    const t = this.info(name);
    const { dtype, data } = decodeTensor(this.readRaw(name), t.dtype, { file: this.path, tensor: name });
    if (dtype === "float32") {
      const origin = `${this.path}: tensor "${name}"`;
      checkFinite(data as Float32Array, { key: origin, origin, totalRows: 1 });
    }
    return { shape: [...t.shape], dtype, data };
  }

  /** An I64 tensor's exact values (read() would refuse those outside int32). */
  readBigInt64(name: string): BigInt64Array {
    const t = this.info(name);
    if (t.dtype !== "I64")
      throw new FormatError(`readBigInt64() needs an I64 tensor, this is ${t.dtype}`, this.path, name);
    const raw = this.readRaw(name);
    return new BigInt64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8);
  }

  /** A new tf.Tensor (float32, int32 or bool); the caller owns and disposes it. */
  tensor(name: string): tf.Tensor {
    const { shape, dtype, data } = this.read(name);
    return tf.tensor(data, shape, dtype);
  }

  /** Releases the file handle; later reads throw. Safe to call twice. */
  close(): void {
    this.reader.close();
  }
}
