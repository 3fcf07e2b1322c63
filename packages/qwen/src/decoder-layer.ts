// Qwen2DecoderLayer: pre-norm residual blocks, attention then MLP.
// Shape legend: B batch, T positions, E hidden size.

import { type Initializer, Module, RMSNorm } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { type AttentionContext, Qwen2Attention } from "./attention.js";
import type { Qwen2Config } from "./config.js";
import { Qwen2MLP } from "./mlp.js";

export class Qwen2DecoderLayer extends Module {
  input_layernorm: RMSNorm;
  self_attn: Qwen2Attention;
  post_attention_layernorm: RMSNorm;
  mlp: Qwen2MLP;

  constructor(config: Qwen2Config, layerIdx: number, init?: Initializer) {
    super();
    // Registration order = HF's attribute order, so state dicts list keys as transformers does.
    this.self_attn = this.module("self_attn", new Qwen2Attention(config, layerIdx, init));
    this.mlp = this.module("mlp", new Qwen2MLP(config, init));
    this.input_layernorm = this.module(
      "input_layernorm",
      new RMSNorm(config.hidden_size, config.rms_norm_eps),
    );
    this.post_attention_layernorm = this.module(
      "post_attention_layernorm",
      new RMSNorm(config.hidden_size, config.rms_norm_eps),
    );
  }

  forward(x: tf.Tensor, ctx: AttentionContext): tf.Tensor {
    return tf.tidy(() => this.mlpBlock(this.attentionBlock(x, ctx)));
  }

  /** The first residual block: x + attention(norm(x)). [B, T, E] → [B, T, E] */
  attentionBlock(x: tf.Tensor, ctx: AttentionContext): tf.Tensor {
    return tf.tidy(() => x.add(this.self_attn.forward(this.input_layernorm.forward(x), ctx)));
  }

  /** The second residual block: h + mlp(norm(h)). [B, T, E] → [B, T, E] */
  mlpBlock(h: tf.Tensor): tf.Tensor {
    return tf.tidy(() => h.add(this.mlp.forward(this.post_attention_layernorm.forward(h))));
  }
}
