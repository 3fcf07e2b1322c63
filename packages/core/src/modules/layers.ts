// Leaf modules owning HF-named parameters; the maths is in ../nn. Parameters are read through getters:
// a frozen one may be offloaded (its values brought into the heap when used), a trainable one is a variable.
import * as tf from "@tensorflow/tfjs-core";
import { brandClass } from "../errors.js";
import { embedding } from "../nn/embedding.js";
import { layerNorm } from "../nn/layer-norm.js";
import { linear } from "../nn/linear.js";
import { rmsNorm } from "../nn/rms-norm.js";
import { Module } from "./module.js";
import { OffloadedParameter } from "./offloaded-parameter.js";
import { type Initializer, onesInit, zerosInit } from "./random.js";

export interface LinearOptions {
  bias?: boolean;
  init?: Initializer;
}

/** torch.nn.Linear: `weight` [out, in], optional `bias` [out]. */
export class Linear extends Module {
  static {
    brandClass(Linear, "@llava-ts/core:Linear");
  }
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    this.param("weight", [outFeatures, inFeatures], options.init);
    if (options.bias ?? true) this.param("bias", [outFeatures]);
  }
  get weight(): tf.Tensor {
    return this.value("weight");
  }
  get bias(): tf.Tensor | undefined {
    return this.optionalValue("bias");
  }
  forward(x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** torch.nn.Embedding: `weight` [num, dim]. */
export class Embedding extends Module {
  static {
    brandClass(Embedding, "@llava-ts/core:Embedding");
  }
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    init: Initializer = zerosInit,
  ) {
    super();
    this.param("weight", [numEmbeddings, embeddingDim], init);
  }
  get weight(): tf.Tensor {
    return this.value("weight");
  }
  forward(ids: tf.Tensor): tf.Tensor {
    return embedding(ids, this.weight);
  }
  /**
   * Rows `ids` ([...shape], host ints) → [...shape, dim]. An offloaded table is read row by row from its
   * checkpoint: a 151,936-row vocabulary never enters the heap for a lookup.
   */
  lookup(ids: Int32Array, shape: readonly number[]): tf.Tensor {
    const table = this.parameter("weight");
    if (table instanceof OffloadedParameter)
      return tf.tensor(table.rows(ids), [...shape, this.embeddingDim], "float32");
    return tf.tidy(() => embedding(tf.tensor(ids, [...shape], "int32"), table));
  }
}

export class LayerNorm extends Module {
  static {
    brandClass(LayerNorm, "@llava-ts/core:LayerNorm");
  }
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.param("weight", [dim], onesInit);
    this.param("bias", [dim]);
  }
  get weight(): tf.Tensor {
    return this.value("weight");
  }
  get bias(): tf.Tensor {
    return this.value("bias");
  }
  forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  static {
    brandClass(RMSNorm, "@llava-ts/core:RMSNorm");
  }
  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.param("weight", [dim], onesInit);
  }
  get weight(): tf.Tensor {
    return this.value("weight");
  }
  forward(x: tf.Tensor): tf.Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/** Children named "0", "1", … as torch.nn.ModuleList. */
export class ModuleList<M extends Module> extends Module implements Iterable<M> {
  static {
    brandClass(ModuleList, "@llava-ts/core:ModuleList");
  }
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
