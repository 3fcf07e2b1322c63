// PEFT's lora.Linear (peft/tuners/lora/layer.py) as a wrapper around a plain Linear, keeping PEFT's
// parameter names: base_layer.weight, lora_A.default.weight [r, in], lora_B.default.weight [out, r].
// Shape legend: N leading dims, I in features, O out features, R rank.
import { Linear, LlavaError, linear, Module, OffloadedParameter, Rng } from "@llava-ts/core";
import { brandClass } from "@llava-ts/core/internal";
import * as tf from "@tensorflow/tfjs-core";
import type { InitLoraWeights, LoraConfig } from "./lora-config.js";
import { loraDropout } from "./lora-dropout.js";
import { loraInitializers } from "./lora-init.js";
import { ModuleDict } from "./module-dict.js";

export interface LoraLinearOptions {
  r: number;
  alpha: number;
  /** alpha / r (or alpha / √r with rsLoRA); computed by the caller so the rule lives in one place. */
  scaling: number;
  dropout?: number;
  init?: InitLoraWeights;
  /** Draws the initial A (and B) weights. */
  rng: Rng;
  /** Seed of this layer's dropout stream. */
  dropoutSeed?: number;
  /** The adapter's config (PEFT's peft_config), which saveAdapter writes. */
  config?: LoraConfig;
}

export class LoraLinear extends Module {
  static {
    brandClass(LoraLinear, "@llava-ts/lora:LoraLinear");
  }
  readonly base_layer: Linear;
  readonly lora_A: ModuleDict<Linear>;
  readonly lora_B: ModuleDict<Linear>;
  readonly r: number;
  readonly alpha: number;
  readonly scaling: number;
  readonly dropout: number;
  /** Dropout applies only while training (PEFT follows module.train()); off by default. */
  training = false;
  /** Whether B·A·scaling has been added into base_layer.weight (forward then uses the base alone). */
  merged = false;
  /** This layer's dropout stream; its state is all a resumed run needs. */
  readonly dropoutRng: Rng;
  /** The config of the adapter this layer belongs to (the same object on every layer of it). */
  config?: LoraConfig;

  constructor(base: Linear, options: LoraLinearOptions) {
    super();
    this.r = options.r;
    this.alpha = options.alpha;
    this.scaling = options.scaling;
    this.dropout = options.dropout ?? 0;
    this.dropoutRng = new Rng(options.dropoutSeed ?? 0);
    this.config = options.config;
    const init = loraInitializers(options.init ?? true, options.r, options.rng);
    this.base_layer = this.module("base_layer", base);
    const a = new Linear(base.inFeatures, options.r, { bias: false, init: init.a });
    const b = new Linear(options.r, base.outFeatures, { bias: false, init: init.b });
    this.lora_A = this.module("lora_A", new ModuleDict({ default: a }));
    this.lora_B = this.module("lora_B", new ModuleDict({ default: b }));
  }

  // The Linear surface, so code that reads a layer's weight or sizes keeps working on a wrapped one.
  get inFeatures(): number {
    return this.base_layer.inFeatures;
  }
  get outFeatures(): number {
    return this.base_layer.outFeatures;
  }
  get weight(): tf.Tensor {
    return this.base_layer.weight;
  }
  get bias(): tf.Tensor | undefined {
    return this.base_layer.bias;
  }
  /** lora_A.default.weight [R, I]. */
  get weightA(): tf.Variable {
    return this.lora_A.get("default").variable("weight");
  }
  /** lora_B.default.weight [O, R]. */
  get weightB(): tf.Variable {
    return this.lora_B.get("default").variable("weight");
  }

  /** base(x) + B(A(dropout(x))) · scaling, in PEFT's order of operations. */
  forward(x: tf.Tensor): tf.Tensor {
    if (this.merged) return this.base_layer.forward(x);
    const seed = this.training && this.dropout > 0 ? this.dropoutRng.int(2 ** 31) : 0;
    return tf.tidy(() => {
      const result = this.base_layer.forward(x); // [N, O]
      const h = this.training && this.dropout > 0 ? loraDropout(x, this.dropout, seed) : x; // [N, I]
      const low = linear(h, this.weightA); // [N, R]
      return result.add(linear(low, this.weightB).mul(this.scaling)); // [N, O]
    });
  }

  /** (B A) · scaling [O, I], PEFT's get_delta_weight; the caller disposes it. */
  deltaWeight(): tf.Tensor {
    return tf.tidy(() => tf.matMul(this.weightB, this.weightA).mul(this.scaling));
  }

  /**
   * W += (B A) · scaling. Merging twice would count the adapter twice, so it is an error. An offloaded W
   * is not rewritten: it becomes W + (B A)·scaling formed when used (OffloadedParameter.merged), and the
   * adapter's weights stay alive for that.
   */
  merge(): void {
    if (this.merged) throw new LlavaError("LoraLinear.merge(): already merged");
    const w = this.base_layer.parameter("weight");
    if (w instanceof OffloadedParameter)
      this.base_layer.setParameter(
        "weight",
        OffloadedParameter.merged(w, () => this.deltaWeight()),
      );
    else tf.tidy(() => w.assign(w.add(this.deltaWeight())));
    this.merged = true;
  }

  /** W -= (B A) · scaling: undoes merge() up to float32 rounding (exactly, for an offloaded W). */
  unmerge(): void {
    if (!this.merged) throw new LlavaError("LoraLinear.unmerge(): not merged");
    const w = this.base_layer.parameter("weight");
    if (w instanceof OffloadedParameter && w.mergedFrom) this.base_layer.setParameter("weight", w.mergedFrom);
    else if (w instanceof tf.Variable) tf.tidy(() => w.assign(w.sub(this.deltaWeight())));
    this.merged = false;
  }

  /**
   * The base Linear with the adapter merged in (mlx-lm's fuse()); this wrapper's LoRA weights are freed —
   * unless W is offloaded, whose merge reads them whenever W is used.
   */
  fuse(): Linear {
    if (!this.merged) this.merge();
    if (!(this.base_layer.parameter("weight") instanceof OffloadedParameter)) {
      this.lora_A.dispose();
      this.lora_B.dispose();
    }
    return this.base_layer;
  }

  /** The base Linear without the adapter (unmerged first if needed); the LoRA weights are freed. */
  unload(): Linear {
    if (this.merged) this.unmerge();
    this.lora_A.dispose();
    this.lora_B.dispose();
    return this.base_layer;
  }
}
