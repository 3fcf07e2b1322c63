// CLIPMLP (modeling_clip.py): fc1 → hidden_act → fc2.
// Shape legend: B batch, S sequence, D hidden size, F intermediate size.
import { type Activation, getActivation, Linear, Module, normalInit, type Rng } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import type { ClipVisionConfig } from "./clip-vision-config.js";

export class ClipMLP extends Module {
  fc1: Linear;
  fc2: Linear;
  private readonly act: Activation;

  constructor(config: ClipVisionConfig, rng: Rng) {
    super();
    const D = config.hidden_size;
    const f = config.initializer_factor;
    this.act = getActivation(config.hidden_act);
    // HF's _init_weights: fc1 N(0, (2D)^-½·f), fc2 N(0, D^-½·(2L)^-½·f).
    const fcStd = (2 * D) ** -0.5 * f;
    const inStd = D ** -0.5 * (2 * config.num_hidden_layers) ** -0.5 * f;
    this.fc1 = this.module("fc1", new Linear(D, config.intermediate_size, { init: normalInit(fcStd, rng) }));
    this.fc2 = this.module("fc2", new Linear(config.intermediate_size, D, { init: normalInit(inStd, rng) }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = this.act(this.fc1.forward(x)); // [B, S, F]
      return this.fc2.forward(h); // [B, S, D]
    });
  }
}
