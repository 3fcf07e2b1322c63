// The module tree: parameters live in tf.Variables named by their Hugging Face keys, so a checkpoint's
// state dict maps 1:1 onto a model ("language_model.model.layers.0.self_attn.q_proj.weight").
import * as tf from "@tensorflow/tfjs-core";
import { LlavaError, WeightLoadError, type WeightMismatch } from "../errors.js";
import { type Initializer, zerosInit } from "./random.js";

/** Anything that hands out tensors by name: a Map, a Record, or a lazily reading checkpoint. */
export interface TensorSource {
  keys(): Iterable<string>;
  /** Shape without reading data, when the source can tell. */
  shape?(key: string): readonly number[];
  /** A new tensor the caller owns (it is disposed after loading). */
  tensor(key: string): tf.Tensor;
}

/** A name filter: a glob with `*`, a name or dotted prefix, a RegExp, or a predicate. */
export type NamePattern = string | RegExp | ((name: string) => boolean);

export function matchName(pattern: NamePattern, name: string): boolean {
  if (typeof pattern === "function") return pattern(name);
  if (pattern instanceof RegExp) return pattern.test(name);
  if (pattern.includes("*")) {
    const re = new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`);
    return re.test(name);
  }
  return name === pattern || name.startsWith(`${pattern}.`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface LoadResult {
  missing: string[];
  unexpected: string[];
}

export abstract class Module {
  private readonly _modules = new Map<string, Module>();
  private readonly _params = new Map<string, tf.Variable>();

  /** Registers a child under its HF name; also reachable as the property of the same name. */
  protected module<M extends Module>(name: string, child: M): M {
    this._modules.set(name, child);
    return child;
  }

  /** Creates a parameter (trainable by default) from an initializer or a tensor the module takes over. */
  protected param(
    name: string,
    shape: readonly number[],
    init: Initializer | tf.Tensor = zerosInit,
  ): tf.Variable {
    const value = init instanceof tf.Tensor ? init : tf.tensor(init(shape), [...shape], "float32");
    const v = tf.variable(value, true);
    if (!(init instanceof tf.Tensor)) value.dispose();
    this._params.set(name, v);
    return v;
  }

  children(): [string, Module][] {
    return [...this._modules];
  }

  *namedModules(prefix = ""): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, m] of this._modules) yield* m.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  *namedParameters(prefix = ""): Generator<[string, tf.Variable]> {
    for (const [name, p] of this._params) yield [prefix ? `${prefix}.${name}` : name, p];
    for (const [name, m] of this._modules) yield* m.namedParameters(prefix ? `${prefix}.${name}` : name);
  }

  ownParameters(): [string, tf.Variable][] {
    return [...this._params];
  }

  getSubmodule(path: string): Module {
    if (path === "") return this;
    let m: Module = this;
    for (const part of path.split(".")) {
      const next = m._modules.get(part);
      if (!next) throw new LlavaError(`no submodule "${path}" (stopped at "${part}")`);
      m = next;
    }
    return m;
  }

  /** Replaces a submodule (LoRA wraps linears this way); the parent's same-named property follows. */
  setSubmodule(path: string, child: Module): void {
    const dot = path.lastIndexOf(".");
    const parent = this.getSubmodule(dot < 0 ? "" : path.slice(0, dot));
    const name = path.slice(dot + 1);
    if (!parent._modules.has(name)) throw new LlavaError(`no submodule "${path}" to replace`);
    parent._modules.set(name, child);
    if (name in parent) (parent as unknown as Record<string, unknown>)[name] = child;
  }

  /** The parameters themselves (not copies), keyed by HF name. */
  stateDict(): Map<string, tf.Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Copies tensors into the parameters. Strict (default): any missing, unexpected or wrong-shaped key
   * raises a WeightLoadError listing all of them before anything is assigned. Non-strict: wrong shapes
   * still raise; missing and unexpected keys are returned.
   */
  loadStateDict(
    source: TensorSource | Map<string, tf.Tensor> | Record<string, tf.Tensor>,
    options: { strict?: boolean; source?: string } = {},
  ): LoadResult {
    const strict = options.strict ?? true;
    const src = toSource(source);
    const params = new Map(this.namedParameters());
    const keys = new Set(src.keys());
    const missing = [...params.keys()].filter((k) => !keys.has(k));
    const unexpected = [...keys].filter((k) => !params.has(k));
    const mismatched: WeightMismatch[] = [];
    for (const [k, p] of params) {
      if (!keys.has(k) || !src.shape) continue;
      const found = src.shape(k);
      if (!sameShape(found, p.shape)) mismatched.push({ key: k, expected: p.shape, found });
    }
    if (mismatched.length || (strict && (missing.length || unexpected.length)))
      throw new WeightLoadError(missing, strict ? unexpected : [], mismatched, options.source);
    for (const [k, p] of params) {
      if (!keys.has(k)) continue;
      const t = src.tensor(k);
      try {
        if (!sameShape(t.shape, p.shape))
          throw new WeightLoadError([], [], [{ key: k, expected: p.shape, found: t.shape }], options.source);
        const f = t.dtype === "float32" ? t : t.toFloat();
        p.assign(f);
        if (f !== t) f.dispose();
      } finally {
        if (!(source instanceof Map) && !isRecord(source)) t.dispose();
      }
    }
    return { missing, unexpected };
  }

  /** Marks matching parameters (all when no pattern) as not trainable. */
  freeze(pattern?: NamePattern): this {
    for (const [name, p] of this.namedParameters())
      if (!pattern || matchName(pattern, name)) p.trainable = false;
    return this;
  }

  unfreeze(pattern?: NamePattern): this {
    for (const [name, p] of this.namedParameters())
      if (!pattern || matchName(pattern, name)) p.trainable = true;
    return this;
  }

  trainableParameters(): [string, tf.Variable][] {
    return [...this.namedParameters()].filter(([, p]) => p.trainable);
  }

  numParameters(options: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const [, p] of this.namedParameters()) if (!options.trainableOnly || p.trainable) n += p.size;
    return n;
  }

  dispose(): void {
    for (const p of this._params.values()) p.dispose();
    for (const m of this._modules.values()) m.dispose();
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function isRecord(x: unknown): x is Record<string, tf.Tensor> {
  return (
    typeof x === "object" &&
    x !== null &&
    !(x instanceof Map) &&
    typeof (x as TensorSource).keys !== "function"
  );
}

function toSource(source: TensorSource | Map<string, tf.Tensor> | Record<string, tf.Tensor>): TensorSource {
  if (source instanceof Map)
    return { keys: () => source.keys(), shape: (k) => source.get(k)!.shape, tensor: (k) => source.get(k)! };
  if (isRecord(source))
    return { keys: () => Object.keys(source), shape: (k) => source[k].shape, tensor: (k) => source[k] };
  return source;
}
