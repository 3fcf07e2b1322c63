// CLIPEncoder (modeling_clip.py): the stack of encoder layers, optionally keeping every layer's input.
// Shape legend: B batch, S sequence, D hidden size.
import { checkpoint, Module, ModuleList, type Rng } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { ClipEncoderLayer } from "./clip-encoder-layer.js";
import type { ClipVisionConfig } from "./clip-vision-config.js";

// A type (not an interface) so tf.tidy accepts it as a TensorContainer.
export type EncoderOutput = {
  lastHiddenState: tf.Tensor; // [B, S, D]
  /** The input, then each layer's output (numLayers + 1 tensors), when asked for. */
  hiddenStates?: tf.Tensor[];
};

export class ClipEncoder extends Module {
  layers: ModuleList<ClipEncoderLayer>;
  /** Recompute each layer in the backward pass (the tower trains only under strategy "none"). */
  gradientCheckpointing = false;

  constructor(config: ClipVisionConfig, rng: Rng) {
    super();
    this.layers = this.module("layers", new ModuleList<ClipEncoderLayer>());
    for (let i = 0; i < config.num_hidden_layers; i++) this.layers.push(new ClipEncoderLayer(config, rng));
  }

  /** Runs the first `numLayers` layers (all by default). */
  forward(x: tf.Tensor, options: { outputHiddenStates?: boolean; numLayers?: number } = {}): EncoderOutput {
    const n = options.numLayers ?? this.layers.length;
    return tf.tidy(() => {
      const states: tf.Tensor[] = [];
      // A clone shares x's data but is a handle of our own, so callers may dispose every output.
      let h = x.clone(); // [B, S, D]
      for (let i = 0; i < n; i++) {
        if (options.outputHiddenStates) states.push(h);
        h = this.runLayer(this.layers.at(i), h); // [B, S, D]
      }
      if (!options.outputHiddenStates) return { lastHiddenState: h };
      states.push(h);
      // Its own handle too, so disposing lastHiddenState leaves hiddenStates[n] usable.
      return { lastHiddenState: h.clone(), hiddenStates: states };
    });
  }

  /** One layer: offloaded weights brought in first; checkpointed when asked and a gradient is recorded. */
  private runLayer(layer: ClipEncoderLayer, h: tf.Tensor): tf.Tensor {
    layer.bringInWeights();
    if (!this.gradientCheckpointing) return layer.forward(h);
    const params = layer.trainableParameters().map(([, v]) => v);
    const rngs = [...layer.namedRandomStreams()].map(([, r]) => r); // LoRA dropout's, replayed
    return checkpoint((x) => layer.forward(x), h, [], params, rngs);
  }
}
