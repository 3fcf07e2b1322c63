// Leaf modules owning HF-named variables; the maths is in ../nn.
import type * as tf from "@tensorflow/tfjs-core";
import { embedding } from "../nn/embedding.js";
import { layerNorm } from "../nn/layer-norm.js";
import { linear } from "../nn/linear.js";
import { rmsNorm } from "../nn/rms-norm.js";
import { Module } from "./module.js";
import { type Initializer, onesInit, zerosInit } from "./random.js";

export interface LinearOptions {
  bias?: boolean;
  init?: Initializer;
}

/** torch.nn.Linear: `weight` [out, in], optional `bias` [out]. */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    this.weight = this.param("weight", [outFeatures, inFeatures], options.init);
    if (options.bias ?? true) this.bias = this.param("bias", [outFeatures]);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** torch.nn.Embedding: `weight` [num, dim]. */
export class Embedding extends Module {
  readonly weight: tf.Variable;
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    init: Initializer = zerosInit,
  ) {
    super();
    this.weight = this.param("weight", [numEmbeddings, embeddingDim], init);
  }
  forward(ids: tf.Tensor): tf.Tensor {
    return embedding(ids, this.weight);
  }
}

export class LayerNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.param("weight", [dim], onesInit);
    this.bias = this.param("bias", [dim]);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  readonly weight: tf.Variable;
  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = this.param("weight", [dim], onesInit);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/** Children named "0", "1", … as torch.nn.ModuleList. */
export class ModuleList<M extends Module> extends Module implements Iterable<M> {
  private readonly items: M[] = [];
  constructor(items: Iterable<M> = []) {
    super();
    for (const m of items) this.push(m);
  }
  push(m: M): void {
    this.module(String(this.items.length), m);
    this.items.push(m);
  }
  at(i: number): M {
    return this.getSubmodule(String(i)) as M;
  }
  get length(): number {
    return this.items.length;
  }
  *[Symbol.iterator](): Iterator<M> {
    for (let i = 0; i < this.items.length; i++) yield this.at(i);
  }
}
