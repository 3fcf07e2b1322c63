// Per-layer keys and values of past positions for incremental decoding (HF's DynamicCache).
// Shape legend: B batch, K kv heads, S cached positions, T new positions, D head dim.

import { ShapeError } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";

export class KVCache {
  private readonly keys: (tf.Tensor | undefined)[];
  private readonly values: (tf.Tensor | undefined)[];

  constructor(readonly numLayers: number) {
    this.keys = new Array(numLayers).fill(undefined);
    this.values = new Array(numLayers).fill(undefined);
  }

  /** Positions already cached (layer 0's, which is updated first in a forward pass). */
  get length(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }

  /**
   * Appends k, v [B, K, T, D] to layer `layer` and returns all keys and values [B, K, S + T, D]. The cache
   * keeps its own tensors (tf.keep), so this may run inside a tidy; the caller's k and v are not taken.
   */
  update(layer: number, k: tf.Tensor, v: tf.Tensor): { k: tf.Tensor; v: tf.Tensor } {
    if (layer < 0 || layer >= this.numLayers)
      throw new ShapeError(`KVCache: no layer ${layer} of ${this.numLayers}`);
    const pastK = this.keys[layer];
    const pastV = this.values[layer];
    if (
      pastK &&
      (pastK.shape[0] !== k.shape[0] || pastK.shape[1] !== k.shape[1] || pastK.shape[3] !== k.shape[3])
    )
      throw new ShapeError(
        `KVCache layer ${layer}: cached [${pastK.shape}] cannot take [${k.shape}]`,
        pastK.shape,
        k.shape,
      );
    const nextK = tf.keep(pastK ? tf.concat([pastK, k], 2) : k.clone()); // [B, K, S + T, D]
    const nextV = tf.keep(pastV ? tf.concat([pastV, v], 2) : v.clone()); // [B, K, S + T, D]
    pastK?.dispose();
    pastV?.dispose();
    this.keys[layer] = nextK;
    this.values[layer] = nextV;
    return { k: nextK, v: nextV };
  }

  /** Releases every cached tensor; the cache can be reused from empty afterwards. */
  dispose(): void {
    for (let i = 0; i < this.numLayers; i++) {
      this.keys[i]?.dispose();
      this.values[i]?.dispose();
      this.keys[i] = this.values[i] = undefined;
    }
  }
}
