// Qwen2Model: embed_tokens → layers → norm (transformers/models/qwen2/modeling_qwen2.py).
// Shape legend: B batch, T new positions, P cached positions, S = P + T, E hidden size.

import {
  attentionBias,
  checkpoint,
  Embedding,
  type Initializer,
  Module,
  ModuleList,
  RMSNorm,
  ShapeError,
} from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import type { AttentionContext } from "./attention.js";
import { headDim, type Qwen2Config } from "./config.js";
import { Qwen2DecoderLayer } from "./decoder-layer.js";
import { arangePositionIds, type IntInput, intArray, intShape } from "./inputs.js";
import type { KVCache } from "./kv-cache.js";
import { Qwen2RotaryEmbedding } from "./rotary-embedding.js";

export interface Qwen2ModelInput {
  /** Token ids [B, T]; give these or `inputsEmbeds`. */
  inputIds?: IntInput;
  /** Embeddings [B, T, E] used instead of looking up `inputIds` (LLaVA's merged image + text). */
  inputsEmbeds?: tf.Tensor;
  /** [B, P + T], 1 = attend, 0 = padding; omitted = nothing padded. */
  attentionMask?: IntInput;
  /** [B, T]; omitted = P, P + 1, … in every row, as HF's forward (generate passes cumsum(mask) - 1). */
  positionIds?: IntInput;
  /** Past keys/values; updated in place with this call's positions. */
  cache?: KVCache;
  /** Also return HF's hidden_states: the embeddings, each layer's output, the last one after `norm`. */
  outputHiddenStates?: boolean;
}

export interface Qwen2ModelOutput {
  lastHiddenState: tf.Tensor; // [B, T, E]
  hiddenStates?: tf.Tensor[]; // num_hidden_layers + 1 × [B, T, E]
}

export class Qwen2Model extends Module {
  embed_tokens: Embedding;
  layers: ModuleList<Qwen2DecoderLayer>;
  norm: RMSNorm;
  readonly rotary_emb: Qwen2RotaryEmbedding;
  /**
   * Recompute each decoder layer in the backward pass instead of keeping its activations (HF's
   * gradient_checkpointing_enable()): only each layer's input (and its attention block's output) is held
   * while a gradient is recorded. Each layer is recomputed as its two residual blocks, attention then MLP,
   * one at a time — the same operations in the same order as HF's per-layer recompute, with half the
   * activations held at once (tfjs keeps every intermediate gradient of a recompute until it ends).
   */
  gradientCheckpointing = false;

  constructor(
    readonly config: Qwen2Config,
    init?: Initializer,
  ) {
    super();
    this.embed_tokens = this.module(
      "embed_tokens",
      new Embedding(config.vocab_size, config.hidden_size, init),
    );
    this.layers = this.module(
      "layers",
      new ModuleList(
        Array.from({ length: config.num_hidden_layers }, (_, i) => new Qwen2DecoderLayer(config, i, init)),
      ),
    );
    this.norm = this.module("norm", new RMSNorm(config.hidden_size, config.rms_norm_eps));
    this.rotary_emb = new Qwen2RotaryEmbedding(headDim(config), config.rope_theta);
  }

  forward(input: Qwen2ModelInput): Qwen2ModelOutput {
    const { inputIds, inputsEmbeds, cache } = input;
    if ((inputIds === undefined) === (inputsEmbeds === undefined))
      throw new ShapeError("Qwen2Model: give exactly one of inputIds and inputsEmbeds");
    const E = this.config.hidden_size;
    let B: number;
    let T: number;
    if (inputsEmbeds) {
      if (inputsEmbeds.rank !== 3 || inputsEmbeds.shape[2] !== E)
        throw new ShapeError(
          `inputsEmbeds: expected [B, T, ${E}], found [${inputsEmbeds.shape}]`,
          ["B", "T", E],
          inputsEmbeds.shape,
        );
      [B, T] = inputsEmbeds.shape as [number, number, number];
    } else [B, T] = intShape(inputIds!, "inputIds");
    const P = cache?.length ?? 0;
    const S = P + T;
    const mask =
      input.attentionMask === undefined ? undefined : intArray(input.attentionMask, B, S, "attentionMask");
    const padded = mask?.some((m) => m === 0) ?? false;
    const positions =
      input.positionIds === undefined
        ? arangePositionIds(B, T, P)
        : intArray(input.positionIds, B, T, "positionIds");

    return tf.tidy(() => {
      const tables = this.rotary_emb.forward(positions, B, T); // [B, T, D]
      // Expanded once here rather than in every layer's q and k rotation.
      const cos = tables.cos.expandDims(1); // [B, 1, T, D]
      const sin = tables.sin.expandDims(1); // [B, 1, T, D]
      // Without padding the bias is the same for every row ([1, 1, T, S]); one query needs none.
      const bias = padded
        ? attentionBias({ batch: B, queryLength: T, pastLength: P, attentionMask: mask })
        : T > 1
          ? attentionBias({ batch: 1, queryLength: T, pastLength: P })
          : null;
      const ctx: AttentionContext = { cos, sin, bias, cache };
      let h: tf.Tensor;
      if (inputsEmbeds) h = inputsEmbeds;
      else {
        const ids = intArray(inputIds!, B, T, "inputIds");
        const V = this.config.vocab_size;
        const bad = ids.findIndex((id) => id < 0 || id >= V);
        if (bad >= 0)
          throw new ShapeError(`inputIds: id ${ids[bad]} at flat index ${bad} is outside [0, ${V})`);
        h = this.embed_tokens.lookup(ids, [B, T]); // [B, T, E]
      }
      const hiddenStates: tf.Tensor[] = [];
      for (const layer of this.layers) {
        if (input.outputHiddenStates) hiddenStates.push(h);
        h = this.runLayer(layer, h, ctx); // [B, T, E]
      }
      h = this.norm.forward(h); // [B, T, E]
      if (!input.outputHiddenStates) return { lastHiddenState: h };
      hiddenStates.push(h);
      // inputsEmbeds belongs to the caller: hand back a copy so disposing outputs never frees it.
      if (hiddenStates[0] === inputsEmbeds) hiddenStates[0] = inputsEmbeds.clone();
      return { lastHiddenState: h, hiddenStates };
    });
  }

  /** One decoder layer: its offloaded weights brought in first; checkpointed when asked and training. */
  private runLayer(layer: Qwen2DecoderLayer, h: tf.Tensor, ctx: AttentionContext): tf.Tensor {
    layer.bringInWeights();
    if (!this.gradientCheckpointing || ctx.cache) return layer.forward(h, ctx);
    const params = (...modules: Module[]) =>
      modules.flatMap((m) => m.trainableParameters().map(([, v]) => v));
    // LoRA dropout's streams, replayed when the block is recomputed.
    const rngs = (m: Module) => [...m.namedRandomStreams()].map(([, r]) => r);
    const attended = checkpoint(
      (x, [cos, sin, bias]) => layer.attentionBlock(x, { cos: cos!, sin: sin!, bias }),
      h,
      [ctx.cos, ctx.sin, ctx.bias],
      params(layer.input_layernorm, layer.self_attn),
      rngs(layer.self_attn),
    );
    return checkpoint(
      (x) => layer.mlpBlock(x),
      attended,
      [],
      params(layer.post_attention_layernorm, layer.mlp),
      rngs(layer.mlp),
    );
  }

  /** Frees the parameters and the cached rotary tables. */
  override dispose(): void {
    this.rotary_emb.dispose();
    super.dispose();
  }
}
