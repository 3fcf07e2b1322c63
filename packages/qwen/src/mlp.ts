// Qwen2MLP: down_proj(act(gate_proj(x)) · up_proj(x)), no biases.
// Shape legend: N leading dims, E hidden size, I intermediate size.

import { type Activation, getActivation, type Initializer, Linear, Module } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import type { Qwen2Config } from "./config.js";

export class Qwen2MLP extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  readonly act: Activation;

  constructor(config: Qwen2Config, init?: Initializer) {
    super();
    const E = config.hidden_size;
    const I = config.intermediate_size;
    this.gate_proj = this.module("gate_proj", new Linear(E, I, { bias: false, init }));
    this.up_proj = this.module("up_proj", new Linear(E, I, { bias: false, init }));
    this.down_proj = this.module("down_proj", new Linear(I, E, { bias: false, init }));
    this.act = getActivation(config.hidden_act);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const gated = this.act(this.gate_proj.forward(x)).mul(this.up_proj.forward(x)); // [N, I]
      return this.down_proj.forward(gated); // [N, E]
    });
  }
}
