// CLIPVisionTransformer (modeling_clip.py): embeddings → pre_layrnorm → encoder; pooler = post_layernorm
// of the class token. Shape legend: B batch, C channels, H/W image size, S = patches + 1, D hidden size.
import { LayerNorm, LlavaError, Module, type Rng, ShapeError } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { ClipEncoder } from "./clip-encoder.js";
import type { ClipVisionConfig } from "./clip-vision-config.js";
import { ClipVisionEmbeddings } from "./clip-vision-embeddings.js";

// A type (not an interface) so tf.tidy accepts it as a TensorContainer.
export type ClipVisionOutput = {
  lastHiddenState: tf.Tensor; // [B, S, D]
  poolerOutput: tf.Tensor; // [B, D]
  /** HF's hidden_states: the encoder's input (embeddings AFTER pre_layrnorm), then each layer's output. */
  hiddenStates?: tf.Tensor[];
};

export class ClipVisionTransformer extends Module {
  embeddings: ClipVisionEmbeddings;
  pre_layrnorm: LayerNorm; // sic: HF's spelling, kept so checkpoint keys match
  encoder: ClipEncoder;
  post_layernorm: LayerNorm;

  constructor(
    readonly config: ClipVisionConfig,
    rng: Rng,
  ) {
    super();
    const D = config.hidden_size;
    this.embeddings = this.module("embeddings", new ClipVisionEmbeddings(config, rng));
    this.pre_layrnorm = this.module("pre_layrnorm", new LayerNorm(D, config.layer_norm_eps));
    this.encoder = this.module("encoder", new ClipEncoder(config, rng));
    this.post_layernorm = this.module("post_layernorm", new LayerNorm(D, config.layer_norm_eps));
  }

  forward(pixelValues: tf.Tensor, options: { outputHiddenStates?: boolean } = {}): ClipVisionOutput {
    this.checkPixels(pixelValues);
    return tf.tidy(() => {
      const x = this.pre_layrnorm.forward(this.embeddings.forward(pixelValues)); // [B, S, D]
      const enc = this.encoder.forward(x, { outputHiddenStates: options.outputHiddenStates });
      const cls = enc.lastHiddenState.slice([0, 0, 0], [-1, 1, -1]).squeeze([1]); // [B, D]
      const poolerOutput = this.post_layernorm.forward(cls); // [B, D]
      const out: ClipVisionOutput = { lastHiddenState: enc.lastHiddenState, poolerOutput };
      if (enc.hiddenStates) out.hiddenStates = enc.hiddenStates;
      return out;
    });
  }

  /**
   * hidden_states[layer] alone (negative counts from the end, as LLaVA's vision_feature_layer), running
   * only the layers it needs: layer -2 skips the last layer and the pooler.
   */
  hiddenState(pixelValues: tf.Tensor, layer: number): tf.Tensor {
    const L = this.encoder.layers.length;
    const index = layer < 0 ? L + 1 + layer : layer;
    if (!Number.isInteger(layer) || index < 0 || index > L)
      throw new LlavaError(
        `hidden state ${layer} does not exist: the model has ${L + 1} (0…${L} or −1…−${L + 1})`,
      );
    this.checkPixels(pixelValues);
    return tf.tidy(() => {
      const x = this.pre_layrnorm.forward(this.embeddings.forward(pixelValues)); // [B, S, D]
      return this.encoder.forward(x, { numLayers: index }).lastHiddenState; // [B, S, D]
    });
  }

  /** HF requires exactly image_size × image_size unless interpolate_pos_encoding, which we do not offer. */
  private checkPixels(pixelValues: tf.Tensor): void {
    const { num_channels: C, image_size: S } = this.config;
    const [, c, h, w] = pixelValues.shape;
    if (pixelValues.rank !== 4 || c !== C || h !== S || w !== S)
      throw new ShapeError(
        `pixel values [${pixelValues.shape}] do not fit the vision tower, which expects [B, ${C}, ${S}, ${S}]`,
        ["B", C, S, S],
        pixelValues.shape,
      );
  }
}
