// The module tree: parameters named by their Hugging Face keys, so a checkpoint's state dict maps 1:1
// onto a model ("language_model.model.layers.0.self_attn.q_proj.weight"). A parameter is a tf.Variable in
// the heap, or — frozen weights of a model larger than the wasm heap — an OffloadedParameter whose values
// stay in their checkpoint and enter the heap only while used.
import * as tf from "@tensorflow/tfjs-core";
import { brandClass, LlavaError, WeightLoadError, type WeightMismatch } from "../errors.js";
import { bringIn, evict, requireHeapRoom } from "./heap-cache.js";
import { BytesTensor, type HostDtype, type HostTensor, isHostDtype } from "./host-tensor.js";
import { OffloadedParameter } from "./offloaded-parameter.js";
import { type Initializer, Rng, zerosInit } from "./random.js";

/** A parameter: resident (a variable, trainable or not) or offloaded (frozen, values outside the heap). */
export type Parameter = tf.Variable | OffloadedParameter;

/** Anything that hands out tensors by name: a Map, a Record, or a lazily reading checkpoint. */
export interface TensorSource {
  keys(): Iterable<string>;
  /** Shape without reading data, when the source can tell. */
  shape?(key: string): readonly number[];
  /** A new tensor the caller owns (it is disposed after loading). */
  tensor(key: string): tf.Tensor;
  /** The values left where they are (a tensor of an open checkpoint), for offloaded loading. */
  host?(key: string): HostTensor;
  /** The stored dtype ("BF16", "F32", …), when the source is a file. */
  dtype?(key: string): string;
}

const storedDtypes = new WeakMap<object, HostDtype>();

/**
 * The float dtype a parameter was stored in where it was loaded from (BF16 for a published Qwen2.5), which
 * saving keeps by default as save_pretrained keeps a model's torch_dtype; undefined for weights made here.
 */
export function storedDtype(p: Parameter): HostDtype | undefined {
  return p instanceof OffloadedParameter ? (p.mergedFrom ?? p).host?.dtype : storedDtypes.get(p);
}

function rememberDtype(p: Parameter, dtype: string | undefined): void {
  if (dtype && isHostDtype(dtype)) storedDtypes.set(p, dtype);
}

/** Something a module keeps open while it lives (the checkpoint its offloaded weights are read from). */
export interface Closeable {
  close(): void;
}

let emptyDepth = 0;

/**
 * Builds modules without allocating or initialising any weight (accelerate's `init_empty_weights`): every
 * parameter is declared with its shape only, for `loadStateDict` to fill — so a 7B model can be built,
 * then loaded tensor by tensor or left in its checkpoint.
 */
export function emptyWeights<T>(build: () => T): T {
  emptyDepth++;
  try {
    return build();
  } finally {
    emptyDepth--;
  }
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

export interface LoadOptions {
  /** Default true: every parameter must be present and nothing else. */
  strict?: boolean;
  /** Where the tensors come from, for error messages. */
  source?: string;
  /**
   * Leave the values where they are (the source's `host()`) instead of copying them into the heap: the
   * parameters become OffloadedParameters, frozen, read when used. Default false.
   */
  offload?: boolean;
}

export abstract class Module {
  static {
    brandClass(Module, "@llava-ts/core:Module");
  }
  private readonly _modules = new Map<string, Module>();
  private readonly _params = new Map<string, Parameter>();
  private readonly _resources: Closeable[] = [];

  /** Registers a child under its HF name; also reachable as the property of the same name. */
  protected module<M extends Module>(name: string, child: M): M {
    this._modules.set(name, child);
    return child;
  }

  /**
   * Creates a parameter (trainable by default) from an initializer or a tensor the module takes over;
   * under emptyWeights() only its shape is recorded.
   */
  protected param(
    name: string,
    shape: readonly number[],
    init: Initializer | tf.Tensor | OffloadedParameter = zerosInit,
  ): Parameter {
    if (init instanceof OffloadedParameter) {
      this._params.set(name, init);
      return init;
    }
    if (emptyDepth > 0) {
      if (init instanceof tf.Tensor) init.dispose();
      const p = new OffloadedParameter(shape);
      this._params.set(name, p);
      return p;
    }
    const value = init instanceof tf.Tensor ? init : tf.tensor(init(shape), [...shape], "float32");
    const v = tf.variable(value, true);
    if (!(init instanceof tf.Tensor)) value.dispose();
    this._params.set(name, v);
    return v;
  }

  /** The parameter `name` of this module (not of a child). */
  parameter(name: string): Parameter {
    const p = this._params.get(name);
    if (!p) throw new LlavaError(`no parameter "${name}" in ${this.constructor.name}`);
    return p;
  }

  /** The parameter `name` as a resident variable (LoRA's A and B, anything trained); an error if offloaded. */
  variable(name: string): tf.Variable {
    const p = this.parameter(name);
    if (p instanceof OffloadedParameter)
      throw new LlavaError(`${p.label} is offloaded; materialize() or unfreeze() it to get a variable`);
    return p;
  }

  /**
   * The tensor to compute with for parameter `name`: the variable itself, or an offloaded parameter's
   * values brought into the heap (where they stay while the heap budget allows).
   */
  protected value(name: string): tf.Tensor {
    const p = this.parameter(name);
    return p instanceof OffloadedParameter ? p.value() : p;
  }

  /** The optional parameter `name`, or undefined when the module has none. */
  protected optionalValue(name: string): tf.Tensor | undefined {
    return this._params.has(name) ? this.value(name) : undefined;
  }

  /**
   * Brings every offloaded parameter of this module and its children into the heap together (a decoder
   * layer, just before it runs); a group larger than the heap budget is an error naming it.
   */
  bringInWeights(): void {
    const params = this.offloadedParameters();
    if (params.length) bringIn(params, groupName(params) || this.constructor.name);
  }

  /** The offloaded parameters of this module and its children. */
  offloadedParameters(): OffloadedParameter[] {
    const out: OffloadedParameter[] = [];
    for (const [, p] of this.namedParameters()) if (p instanceof OffloadedParameter) out.push(p);
    return out;
  }

  children(): [string, Module][] {
    return [...this._modules];
  }

  *namedModules(prefix = ""): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, m] of this._modules) yield* m.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  /**
   * The random streams this module and its children own (LoRA dropout keeps one per layer), as
   * "<module path>:<property>": what a resumed run restores and a checkpointed block replays.
   */
  *namedRandomStreams(prefix = ""): Generator<[string, Rng]> {
    for (const [path, m] of this.namedModules(prefix))
      for (const [key, value] of Object.entries(m)) if (value instanceof Rng) yield [`${path}:${key}`, value];
  }

  *namedParameters(prefix = ""): Generator<[string, Parameter]> {
    for (const [name, p] of this._params) yield [prefix ? `${prefix}.${name}` : name, p];
    for (const [name, m] of this._modules) yield* m.namedParameters(prefix ? `${prefix}.${name}` : name);
  }

  ownParameters(): [string, Parameter][] {
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

  /**
   * The parameters themselves (not copies), keyed by HF name. Resident parameters only: an offloaded one
   * has no heap tensor of its own (read it with `namedParameters()` and its `dataSync()`).
   */
  stateDict(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, p] of this.namedParameters()) {
      if (p instanceof OffloadedParameter)
        throw new LlavaError(
          `stateDict(): "${name}" is offloaded (its values stay in ${p.host?.origin ?? "no checkpoint"}); ` +
            "use namedParameters() to read it",
        );
      out.set(name, p);
    }
    return out;
  }

  /**
   * Copies tensors into the parameters (or, with `offload`, leaves them in the source). Strict (default):
   * any missing, unexpected or wrong-shaped key raises a WeightLoadError listing all of them before
   * anything is assigned. Non-strict: wrong shapes still raise; missing and unexpected keys are returned.
   */
  loadStateDict(
    source: TensorSource | Map<string, tf.Tensor> | Record<string, tf.Tensor>,
    options: LoadOptions = {},
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
    if (options.offload && !src.host)
      throw new LlavaError(
        `${options.source ?? "this source"} cannot keep tensors outside the heap (offload)`,
      );
    for (const [k, p] of params) {
      if (!keys.has(k)) continue;
      if (options.offload) {
        this.setParameter(k, bind(new OffloadedParameter(p.shape), k, src.host!(k)));
        continue;
      }
      const t = src.tensor(k);
      try {
        if (!sameShape(t.shape, p.shape))
          throw new WeightLoadError([], [], [{ key: k, expected: p.shape, found: t.shape }], options.source);
        const f = t.dtype === "float32" ? t : t.toFloat();
        let target: Parameter = p;
        if (p instanceof OffloadedParameter) {
          target = tf.variable(f, true);
          this.setParameter(k, target);
        } else p.assign(f);
        rememberDtype(target, src.dtype?.(k));
        if (f !== t) f.dispose();
      } finally {
        if (!(source instanceof Map) && !isRecord(source)) t.dispose();
      }
    }
    return { missing, unexpected };
  }

  /** Keeps `resource` open while this module lives; dispose() closes it. */
  holdResource(resource: Closeable): void {
    this._resources.push(resource);
  }

  /**
   * Moves matching frozen variables (all when no pattern) out of the heap into host memory, stored in
   * `dtype` (default F32: exact; BF16 / F16 round as torch does). Trainable parameters stay resident. With a
   * `dtype`, parameters already offloaded in another dtype are re-stored in it (held in memory).
   */
  offload(pattern?: NamePattern, options: { dtype?: HostDtype } = {}): this {
    for (const [name, p] of [...this.namedParameters()]) {
      if (p.trainable || (pattern && !matchName(pattern, name))) continue;
      if (p instanceof OffloadedParameter) {
        if (!options.dtype || !p.host || p.host.dtype === options.dtype) continue;
        p.host = BytesTensor.fromFloat32(p.dataSync(), p.shape, options.dtype, name);
        evict([p]);
        continue;
      }
      const host = BytesTensor.fromFloat32(
        p.dataSync() as Float32Array,
        p.shape,
        options.dtype ?? "F32",
        name,
      );
      this.setParameter(name, bind(new OffloadedParameter(p.shape), name, host));
      p.dispose();
    }
    return this;
  }

  /**
   * Brings matching offloaded parameters (all when no pattern) into the heap for good, as frozen variables.
   * More than the heap budget has room for is an error that names the sizes (before anything moves).
   */
  materialize(pattern?: NamePattern): this {
    const chosen = [...this.namedParameters()].filter(
      ([name, p]) => p instanceof OffloadedParameter && (!pattern || matchName(pattern, name)),
    );
    const bytes = chosen.reduce((a, [, p]) => a + p.size * 4, 0);
    if (chosen.length)
      requireHeapRoom(bytes, `${chosen.length} parameters to keep in the heap (${groupLabel(pattern)})`);
    for (const [name, p] of chosen) {
      if (!(p instanceof OffloadedParameter)) continue;
      const t = tf.tensor(p.dataSync(), [...p.shape], "float32");
      const v = tf.variable(t, false);
      t.dispose();
      rememberDtype(v, storedDtype(p));
      this.setParameter(name, v);
    }
    return this;
  }

  /** Marks matching parameters (all when no pattern) as not trainable. */
  freeze(pattern?: NamePattern): this {
    for (const [name, p] of this.namedParameters())
      if (!pattern || matchName(pattern, name)) p.trainable = false;
    return this;
  }

  /** Marks matching parameters as trainable; offloaded ones are brought into the heap first (materialize). */
  unfreeze(pattern?: NamePattern): this {
    this.materialize(pattern);
    for (const [name, p] of this.namedParameters())
      if (!pattern || matchName(pattern, name)) p.trainable = true;
    return this;
  }

  /** Trainable parameters: always resident variables. */
  trainableParameters(): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [name, p] of this.namedParameters())
      if (p instanceof tf.Variable && p.trainable) out.push([name, p]);
    return out;
  }

  numParameters(options: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const [, p] of this.namedParameters()) if (!options.trainableOnly || p.trainable) n += p.size;
    return n;
  }

  dispose(): void {
    for (const p of this._params.values()) {
      if (p instanceof OffloadedParameter) evict([p]);
      else p.dispose();
    }
    for (const m of this._modules.values()) m.dispose();
    for (const r of this._resources.splice(0)) r.close();
  }

  /**
   * Swaps the parameter at dotted `path` (below this module) for `next`. An offloaded one leaves the heap;
   * a replaced variable is the caller's to dispose.
   */
  setParameter(path: string, next: Parameter): void {
    const dot = path.lastIndexOf(".");
    const owner = this.getSubmodule(dot < 0 ? "" : path.slice(0, dot));
    const name = path.slice(dot + 1);
    const old = owner._params.get(name);
    if (!old) throw new LlavaError(`no parameter "${path}" to replace`);
    if (old instanceof OffloadedParameter && old !== next) evict([old]);
    owner._params.set(name, next);
  }
}

function groupLabel(pattern?: NamePattern): string {
  if (pattern === undefined) return "the whole model";
  return typeof pattern === "function" ? "selected by a predicate" : `matching ${String(pattern)}`;
}

function bind(p: OffloadedParameter, key: string, host: HostTensor): OffloadedParameter {
  if (!sameShape(host.shape, p.shape))
    throw new WeightLoadError([], [], [{ key, expected: p.shape, found: [...host.shape] }], host.origin);
  p.host = host;
  p.key = key;
  return p;
}

/** The dotted prefix all of a group's keys share ("language_model.model.layers.3"). */
function groupName(params: readonly OffloadedParameter[]): string {
  let prefix = params[0].key.split(".");
  for (const p of params.slice(1)) {
    const parts = p.key.split(".");
    let i = 0;
    while (i < prefix.length && i < parts.length - 1 && prefix[i] === parts[i]) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix.length === params[0].key.split(".").length ? params[0].key : prefix.join(".");
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
