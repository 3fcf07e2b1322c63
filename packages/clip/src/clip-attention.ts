// CLIPAttention (modeling_clip.py): bidirectional multi-head self-attention, biases on all projections.
// Shape legend: B batch, S sequence, H heads, Dh head dim, D = H·Dh hidden size.
import { Linear, Module, normalInit, type Rng, scaledDotProductAttention } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import type { ClipVisionConfig } from "./clip-vision-config.js";

export class ClipAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  out_proj: Linear;
  readonly numHeads: number;
  readonly headDim: number;

  constructor(config: ClipVisionConfig, rng: Rng) {
    super();
    const D = config.hidden_size;
    const f = config.initializer_factor;
    this.numHeads = config.num_attention_heads;
    this.headDim = D / this.numHeads;
    // HF's _init_weights: q/k/v N(0, D^-½·(2L)^-½·f), out N(0, D^-½·f), biases zero.
    const inStd = D ** -0.5 * (2 * config.num_hidden_layers) ** -0.5 * f;
    const outStd = D ** -0.5 * f;
    this.q_proj = this.module("q_proj", new Linear(D, D, { init: normalInit(inStd, rng) }));
    this.k_proj = this.module("k_proj", new Linear(D, D, { init: normalInit(inStd, rng) }));
    this.v_proj = this.module("v_proj", new Linear(D, D, { init: normalInit(inStd, rng) }));
    this.out_proj = this.module("out_proj", new Linear(D, D, { init: normalInit(outStd, rng) }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [B, S, D] = x.shape;
      const heads = (t: tf.Tensor) => t.reshape([B, S, this.numHeads, this.headDim]).transpose([0, 2, 1, 3]); // [B, H, S, Dh]
      const q = heads(this.q_proj.forward(x)); // [B, H, S, Dh]
      const k = heads(this.k_proj.forward(x)); // [B, H, S, Dh]
      const v = heads(this.v_proj.forward(x)); // [B, H, S, Dh]
      // No mask: every patch attends to every patch (CLIP's vision tower has no padding).
      const o = scaledDotProductAttention(q, k, v, null, this.headDim ** -0.5); // [B, H, S, Dh]
      const merged = o.transpose([0, 2, 1, 3]).reshape([B, S, D]); // [B, S, D]
      return this.out_proj.forward(merged); // [B, S, D]
    });
  }
}
