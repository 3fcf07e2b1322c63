// LlavaMultiModalProjector (transformers/models/llava/modeling_llava.py): vision features → text space.
// Shape legend: N leading dims (images × patches), Dv vision hidden size, Dt text hidden size.
import {
  type Activation,
  ConfigReader,
  getActivation,
  type JsonObject,
  Linear,
  Module,
  normalInit,
  Rng,
} from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";

export interface ProjectorOptions {
  /** HF `projector_hidden_act`; default "gelu" (exact erf GELU). */
  hiddenAct?: string;
  /** Seed of the random initialisation. Default 0. */
  seed?: number;
  /** Std of the weights, as LLaVA's _init_weights (text_config.initializer_range). Default 0.02. */
  initializerRange?: number;
}

export class LlavaMultiModalProjector extends Module {
  linear_1: Linear;
  linear_2: Linear;
  readonly hiddenAct: string;
  private readonly act: Activation;

  constructor(
    readonly visionHiddenSize: number,
    readonly textHiddenSize: number,
    options: ProjectorOptions = {},
  ) {
    super();
    this.hiddenAct = options.hiddenAct ?? "gelu";
    this.act = getActivation(this.hiddenAct, "projector_hidden_act");
    const rng = new Rng(options.seed ?? 0);
    const init = normalInit(options.initializerRange ?? 0.02, rng);
    this.linear_1 = this.module("linear_1", new Linear(visionHiddenSize, textHiddenSize, { init }));
    this.linear_2 = this.module("linear_2", new Linear(textHiddenSize, textHiddenSize, { init }));
  }

  /**
   * Sizes and activation from a `model_type: "llava"` config.json: vision_config.hidden_size,
   * text_config.hidden_size, projector_hidden_act (HF defaults 1024, 4096, "gelu").
   */
  static fromConfig(
    json: JsonObject,
    options: Pick<ProjectorOptions, "seed"> = {},
  ): LlavaMultiModalProjector {
    const r = new ConfigReader(json);
    const sub = (key: string) => (r.has(key) ? r.object(key) : new ConfigReader({}, undefined, `${key}.`));
    const vision = sub("vision_config");
    const text = sub("text_config");
    return new LlavaMultiModalProjector(
      vision.positiveInt("hidden_size", 1024),
      text.positiveInt("hidden_size", 4096),
      {
        hiddenAct: r.string("projector_hidden_act", "gelu"),
        initializerRange: text.number("initializer_range", 0.02),
        seed: options.seed,
      },
    );
  }

  /** `[..., Dv]` → `[..., Dt]`. */
  forward(imageFeatures: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = this.act(this.linear_1.forward(imageFeatures)); // [N, Dt]
      return this.linear_2.forward(h); // [N, Dt]
    });
  }
}
