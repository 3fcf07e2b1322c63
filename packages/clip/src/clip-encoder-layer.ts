// CLIPEncoderLayer (modeling_clip.py): pre-norm residual block, attention then MLP.
// Shape legend: B batch, S sequence, D hidden size.
import { LayerNorm, Module, type Rng } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { ClipAttention } from "./clip-attention.js";
import { ClipMLP } from "./clip-mlp.js";
import type { ClipVisionConfig } from "./clip-vision-config.js";

export class ClipEncoderLayer extends Module {
  self_attn: ClipAttention;
  layer_norm1: LayerNorm;
  mlp: ClipMLP;
  layer_norm2: LayerNorm;

  constructor(config: ClipVisionConfig, rng: Rng) {
    super();
    const D = config.hidden_size;
    this.self_attn = this.module("self_attn", new ClipAttention(config, rng));
    this.layer_norm1 = this.module("layer_norm1", new LayerNorm(D, config.layer_norm_eps));
    this.mlp = this.module("mlp", new ClipMLP(config, rng));
    this.layer_norm2 = this.module("layer_norm2", new LayerNorm(D, config.layer_norm_eps));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = x.add(this.self_attn.forward(this.layer_norm1.forward(x))); // [B, S, D]
      return h.add(this.mlp.forward(this.layer_norm2.forward(h))); // [B, S, D]
    });
  }
}
