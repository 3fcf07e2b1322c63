// Models for this package's tests only (not exported): a small LLaVA-shaped network with a forward pass,
// and a module tree shaped like any checkpoint (for key and shape checks against PEFT's files).
import { Linear, Module, normalInit, Rng, SafetensorsFile } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";

/** Holds submodules under arbitrary names (ModuleList / plain containers in HF models). */
class Container extends Module {
  add<M extends Module>(name: string, m: M): M {
    return this.module(name, m);
  }
  addParam(name: string, t: tf.Tensor): void {
    this.param(name, t.shape, t);
  }
}

class Attention extends Container {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  constructor(E: number, rng: Rng, out = "o_proj") {
    super();
    const init = normalInit(0.2, rng);
    this.q_proj = this.add("q_proj", new Linear(E, E, { init }));
    this.k_proj = this.add("k_proj", new Linear(E, E, { init }));
    this.v_proj = this.add("v_proj", new Linear(E, E, { init }));
    this.o_proj = this.add(out, new Linear(E, E, { init, bias: false }));
  }
  forward(x: tf.Tensor): tf.Tensor {
    // Not attention, just something that uses every projection and is smooth: o(tanh(q·k) + v).
    return this.o_proj.forward(
      this.q_proj.forward(x).mul(this.k_proj.forward(x)).tanh().add(this.v_proj.forward(x)),
    );
  }
}

/** vision_tower → multi_modal_projector → language_model, each with q/k/v projections named as in HF. */
export class TinyLlava extends Container {
  vision_tower: Container;
  multi_modal_projector: Container & { forward(x: tf.Tensor): tf.Tensor };
  language_model: Container;
  readonly visionLayers: Attention[] = [];
  readonly textLayers: Attention[] = [];

  constructor(
    readonly E = 8,
    seed = 1,
  ) {
    super();
    const rng = new Rng(seed);
    this.vision_tower = this.add("vision_tower", new Container());
    const vEnc = this.vision_tower
      .add("vision_model", new Container())
      .add("encoder", new Container())
      .add("layers", new Container());
    for (let i = 0; i < 2; i++)
      this.visionLayers.push(
        vEnc.add(String(i), new Container()).add("self_attn", new Attention(E, rng, "out_proj")),
      );
    const proj = new Projector(E, rng);
    this.multi_modal_projector = this.add("multi_modal_projector", proj);
    this.language_model = this.add("language_model", new Container());
    const tLayers = this.language_model.add("model", new Container()).add("layers", new Container());
    for (let i = 0; i < 2; i++)
      this.textLayers.push(tLayers.add(String(i), new Container()).add("self_attn", new Attention(E, rng)));
    this.language_model.add("lm_head", new Linear(E, E, { init: normalInit(0.2, rng), bias: false }));
  }

  /** x [B, T, E] → [B, T, E]; layers are read through the properties that setSubmodule updates. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let h = x;
      for (const [i] of this.visionLayers.entries())
        h = h.add(this.attn("vision_tower.vision_model.encoder.layers", i).forward(h));
      h = this.multi_modal_projector.forward(h);
      for (const [i] of this.textLayers.entries())
        h = h.add(this.attn("language_model.model.layers", i).forward(h));
      return (this.getSubmodule("language_model.lm_head") as Linear).forward(h);
    });
  }

  private attn(prefix: string, i: number): Attention {
    return this.getSubmodule(`${prefix}.${i}.self_attn`) as Attention;
  }
}

class Projector extends Container {
  linear_1: Linear;
  linear_2: Linear;
  constructor(E: number, rng: Rng) {
    super();
    this.linear_1 = this.add("linear_1", new Linear(E, E, { init: normalInit(0.2, rng) }));
    this.linear_2 = this.add("linear_2", new Linear(E, E, { init: normalInit(0.2, rng) }));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return this.linear_2.forward(this.linear_1.forward(x).relu());
  }
}

/**
 * A module tree with exactly a checkpoint's names and shapes and its weights loaded: a 2-D `<p>.weight`
 * becomes a Linear (with `<p>.bias` if present), anything else a plain parameter.
 */
export class CheckpointTree extends Container {
  constructor(path: string) {
    super();
    const file = SafetensorsFile.open(path);
    try {
      const keys = file.keys();
      for (const key of keys) {
        const parts = key.split(".");
        const leaf = parts.pop()!;
        const isLinear = (l: string) => file.has(`${l}.weight`) && file.shape(`${l}.weight`).length === 2;
        const modPath = parts.join(".");
        if (isLinear(modPath) && (leaf === "weight" || leaf === "bias")) {
          if (leaf === "bias") continue;
          const [o, i] = file.shape(key);
          const lin = this.ensure(parts.slice(0, -1)).add(
            parts[parts.length - 1],
            new Linear(i, o, { bias: file.has(`${modPath}.bias`) }),
          );
          const weights = {
            weight: file.tensor(key),
            ...(lin.bias ? { bias: file.tensor(`${modPath}.bias`) } : {}),
          };
          lin.loadStateDict(weights);
          tf.dispose(Object.values(weights));
        } else this.ensure(parts).addParam(leaf, file.tensor(key));
      }
    } finally {
      file.close();
    }
  }

  private ensure(parts: string[]): Container {
    let m: Container = this;
    for (const p of parts) {
      const next = m.children().find(([n]) => n === p)?.[1];
      m = (next as Container | undefined) ?? m.add(p, new Container());
    }
    return m;
  }
}

/** Named like HF's class so saveAdapter writes the same auto_mapping PEFT did. */
export class LlavaForConditionalGeneration extends CheckpointTree {}
