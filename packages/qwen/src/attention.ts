// Qwen2Attention (transformers/models/qwen2/modeling_qwen2.py): biased q/k/v, unbiased o, RoPE, GQA.
// Shape legend: B batch, T new positions, S all key positions, E hidden size, H query heads,
// K kv heads, D head dim.

import { applyRotary, type Initializer, Linear, Module, scaledDotProductAttention } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { headDim, type Qwen2Config } from "./config.js";
import type { KVCache } from "./kv-cache.js";

/** What every decoder layer shares in one forward pass. */
export interface AttentionContext {
  cos: tf.Tensor; // [B, 1, T, D] (or [B, T, D])
  sin: tf.Tensor; // [B, 1, T, D] (or [B, T, D])
  bias: tf.Tensor | null; // [B, 1, T, S], null = no masking needed (one query, nothing padded)
  cache?: KVCache;
}

export class Qwen2Attention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;

  constructor(
    config: Qwen2Config,
    readonly layerIdx: number,
    init?: Initializer,
  ) {
    super();
    const E = config.hidden_size;
    this.numHeads = config.num_attention_heads;
    this.numKvHeads = config.num_key_value_heads;
    this.headDim = headDim(config);
    this.q_proj = this.module("q_proj", new Linear(E, this.numHeads * this.headDim, { bias: true, init }));
    this.k_proj = this.module("k_proj", new Linear(E, this.numKvHeads * this.headDim, { bias: true, init }));
    this.v_proj = this.module("v_proj", new Linear(E, this.numKvHeads * this.headDim, { bias: true, init }));
    this.o_proj = this.module("o_proj", new Linear(this.numHeads * this.headDim, E, { bias: false, init }));
  }

  forward(x: tf.Tensor, ctx: AttentionContext): tf.Tensor {
    const [B, T] = x.shape;
    const { numHeads: H, numKvHeads: K, headDim: D } = this;
    return tf.tidy(() => {
      const q = this.q_proj.forward(x).reshape([B, T, H, D]).transpose([0, 2, 1, 3]); // [B, H, T, D]
      const k = this.k_proj.forward(x).reshape([B, T, K, D]).transpose([0, 2, 1, 3]); // [B, K, T, D]
      let v = this.v_proj.forward(x).reshape([B, T, K, D]).transpose([0, 2, 1, 3]); // [B, K, T, D]
      const qr = applyRotary(q, ctx.cos, ctx.sin); // [B, H, T, D]
      let kr = applyRotary(k, ctx.cos, ctx.sin); // [B, K, T, D]
      if (ctx.cache) ({ k: kr, v } = ctx.cache.update(this.layerIdx, kr, v)); // [B, K, S, D]
      const out = scaledDotProductAttention(qr, kr, v, ctx.bias); // [B, H, T, D]
      const merged = out.transpose([0, 2, 1, 3]).reshape([B, T, H * D]); // [B, T, H·D]
      return this.o_proj.forward(merged); // [B, T, E]
    });
  }
}
