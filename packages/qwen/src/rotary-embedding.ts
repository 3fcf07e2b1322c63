// Qwen2RotaryEmbedding (modeling_qwen2.py): cos/sin tables computed once per length and gathered by
// position id, so a training step or a decoding step never recomputes angles.
// Shape legend: B batch, T positions, L table length, D head dim.

import { rotaryCosSin, ShapeError } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";

export class Qwen2RotaryEmbedding {
  private cosTable?: tf.Tensor2D; // [L, D]
  private sinTable?: tf.Tensor2D; // [L, D]
  private length = 0;

  constructor(
    readonly headDim: number,
    readonly theta: number,
  ) {}

  /** cos and sin [B, T, D] for integer positions [B, T] (flattened row-major). */
  forward(positions: Int32Array, batch: number, length: number): { cos: tf.Tensor; sin: tf.Tensor } {
    if (positions.length !== batch * length)
      throw new ShapeError(`rotary: ${positions.length} position ids for [${batch}, ${length}]`, [
        batch,
        length,
      ]);
    let max = 0;
    for (const p of positions) {
      if (p < 0) throw new ShapeError(`rotary: negative position id ${p}`);
      if (p > max) max = p;
    }
    this.ensure(max + 1);
    return tf.tidy(() => {
      const ids = tf.tensor2d(positions, [batch, length], "int32"); // [B, T]
      return { cos: tf.gather(this.cosTable!, ids), sin: tf.gather(this.sinTable!, ids) }; // [B, T, D]
    });
  }

  /** Grows the tables to at least `needed` positions (doubling, so decoding rarely rebuilds them). */
  private ensure(needed: number): void {
    if (needed <= this.length) return;
    let L = Math.max(64, this.length);
    while (L < needed) L *= 2;
    const positions = Int32Array.from({ length: L }, (_, i) => i);
    const { cos, sin } = rotaryCosSin(positions, [1, L], this.headDim, this.theta); // [1, L, D]
    this.dispose();
    this.cosTable = tf.keep(cos.reshape([L, this.headDim]) as tf.Tensor2D);
    this.sinTable = tf.keep(sin.reshape([L, this.headDim]) as tf.Tensor2D);
    cos.dispose();
    sin.dispose();
    this.length = L;
  }

  dispose(): void {
    this.cosTable?.dispose();
    this.sinTable?.dispose();
    this.cosTable = this.sinTable = undefined;
    this.length = 0;
  }
}
