// A frozen parameter whose values live outside the wasm heap (see host-tensor.ts) and enter it only while
// they are used, through the heap cache (heap-cache.ts) — accelerate's offload, for a 4 GB wasm32 heap.
import type * as tf from "@tensorflow/tfjs-core";
import { brandClass, LlavaError } from "../errors.js";
import type { VocabChunks } from "../nn/vocab-chunked.js";
import { residentTensor } from "./heap-cache.js";
import { type HostTensor, hostSize, readFloat32, readFloat32Into, rowValues } from "./host-tensor.js";

export class OffloadedParameter {
  static {
    brandClass(OffloadedParameter, "@llava-ts/core:OffloadedParameter");
  }
  readonly dtype = "float32" as const;
  /** The values; undefined while the parameter is declared but not loaded (a model built empty). */
  host?: HostTensor;
  /** The full HF key, set when the parameter is bound to its values (for messages and the cache). */
  key = "";
  /** W + delta() (a LoRA update merged without touching the stored values), when this is a merge. */
  private merge?: { base: OffloadedParameter; delta: () => tf.Tensor };
  /** Rows [rowStart, rowStart + shape[0]) of `parent` (a vocabulary chunk), when this is a view. */
  private view?: { parent: OffloadedParameter; rowStart: number };
  private readonly chunks = new Map<string, OffloadedParameter>();

  constructor(readonly shape: readonly number[]) {}

  get size(): number {
    return hostSize(this.shape);
  }

  /** Offloaded parameters never train; unfreezing one (Module.unfreeze) brings it into the heap as a variable. */
  get trainable(): false {
    return false;
  }
  set trainable(value: boolean) {
    if (value)
      throw new LlavaError(
        `${this.label}: an offloaded parameter cannot train; use module.unfreeze(), which makes it resident`,
      );
  }

  get label(): string {
    return this.key || `an offloaded parameter of shape [${this.shape}]`;
  }

  /**
   * `base` plus `delta()` (a new float32 tensor of the same shape, e.g. LoRA's B·A·scaling): the sum is
   * formed in the heap when used and when saved, so merging an adapter into a model that stays in its
   * checkpoint costs no host memory.
   */
  static merged(base: OffloadedParameter, delta: () => tf.Tensor): OffloadedParameter {
    if (base.view) throw new LlavaError(`${base.label}: a vocabulary chunk cannot take a merge`);
    const p = new OffloadedParameter(base.shape);
    p.merge = { base, delta };
    p.key = base.key;
    return p;
  }

  /** Another parameter over the same stored values (a frozen copy that costs nothing). */
  copy(): OffloadedParameter {
    const p = new OffloadedParameter(this.shape);
    p.host = this.host;
    p.key = this.key;
    p.view = this.view;
    p.merge = this.merge;
    return p;
  }

  /** The parameter a merge was made on (see `merged`), or undefined. */
  get mergedFrom(): OffloadedParameter | undefined {
    return this.merge?.base;
  }

  /** The delta tensor of a merge, else undefined (for the heap cache). */
  mergeDelta(): tf.Tensor | undefined {
    return this.merge?.delta();
  }

  private source(): HostTensor {
    if (this.merge) return this.merge.base.source();
    const host = this.view ? this.view.parent.source() : this.host;
    if (!host) throw new LlavaError(`${this.label} has no values: the model was built empty and not loaded`);
    return host;
  }

  /** Bytes of float32 this takes in the heap when brought in. */
  get heapBytes(): number {
    return this.size * 4;
  }

  /** The values as a heap tensor, brought in (and kept while the heap budget allows) by the heap cache. */
  value(): tf.Tensor {
    return residentTensor(this);
  }

  /** Widens the values into `out` (float32, e.g. the heap memory of a new tensor). */
  readInto(out: Float32Array): void {
    if (this.view) readFloat32Into(this.view.parent.source(), out, this.view.rowStart, this.shape[0]);
    else readFloat32Into(this.source(), out);
  }

  /** float32 values read from the host, without entering the heap (a merge's delta is computed in it). */
  dataSync(): Float32Array {
    if (this.merge) {
      const values = this.merge.base.dataSync();
      const d = this.merge.delta();
      const dv = d.dataSync() as Float32Array;
      for (let i = 0; i < values.length; i++) values[i] += dv[i];
      d.dispose();
      return values;
    }
    if (this.view) {
      const out = new Float32Array(this.size);
      this.readInto(out);
      return out;
    }
    return readFloat32(this.source());
  }

  data(): Promise<Float32Array> {
    return Promise.resolve(this.dataSync());
  }

  /** Rows `ids` of a [V, E] table widened into a fresh [ids.length · E] array (an embedding lookup). */
  rows(ids: ArrayLike<number>): Float32Array {
    if (this.merge) throw new LlavaError(`${this.label}: a merged parameter has no row reads`);
    const host = this.source();
    const V = this.shape[0];
    const E = rowValues(this.shape);
    const out = new Float32Array(ids.length * E);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= V)
        throw new LlavaError(`${this.label}: row ${id} at position ${i} is outside [0, ${V})`);
      readFloat32Into(host, out.subarray(i * E, (i + 1) * E), id, 1);
    }
    return out;
  }

  /**
   * Rows [start, start + count) as an offloaded parameter of their own (a chunk of the vocabulary), the same
   * object for the same rows so the heap cache keeps it between calls.
   */
  rowChunk(start: number, count: number): OffloadedParameter {
    if (this.merge) throw new LlavaError(`${this.label}: a merged parameter has no row chunks`);
    const V = this.shape[0];
    if (start < 0 || count <= 0 || start + count > V)
      throw new LlavaError(`${this.label}: rows [${start}, ${start + count}) are outside [0, ${V})`);
    const id = `${start}:${count}`;
    let chunk = this.chunks.get(id);
    if (!chunk) {
      chunk = new OffloadedParameter([count, ...this.shape.slice(1)]);
      chunk.view = { parent: this, rowStart: start };
      chunk.key = `${this.key}[${start}:${start + count}]`;
      this.chunks.set(id, chunk);
    }
    return chunk;
  }

  /**
   * This [V, E] matrix as chunks of rows of about `chunkBytes` float32 each (default 64 MiB), each brought
   * into the heap when used: the output projection over a vocabulary that never enters the heap whole.
   */
  vocabChunks(chunkBytes = 64 * 2 ** 20): VocabChunks {
    const [V] = this.shape;
    const rows = Math.max(1, Math.min(V, Math.floor(chunkBytes / (4 * rowValues(this.shape)))));
    const count = Math.ceil(V / rows);
    return {
      vocabSize: V,
      count,
      start: (c) => c * rows,
      weight: (c) => this.rowChunk(c * rows, Math.min(rows, V - c * rows)).value(),
    };
  }

  /** This parameter and its chunks, for the heap cache to release. */
  *withChunks(): Generator<OffloadedParameter> {
    yield this;
    yield* this.chunks.values();
  }
}
