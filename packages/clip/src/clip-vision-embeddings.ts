// CLIPVisionEmbeddings (transformers/models/clip/modeling_clip.py): class token + patches + positions.
// Shape legend: B batch, N patches, S = N + 1 positions, D hidden size, C channels, P patch size.
import { Embedding, Module, normalInit, type Rng } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { type ClipVisionConfig, numPatches } from "./clip-vision-config.js";
import { patchEmbed } from "./patch-embedding.js";

/** torch's Conv2d(C, D, kernel=P, stride=P, bias=False); `weight` keeps the conv layout [D, C, P, P]. */
export class PatchConv extends Module {
  constructor(channels: number, dim: number, patch: number, rng: Rng, std: number) {
    super();
    this.param("weight", [dim, channels, patch, patch], normalInit(std, rng));
  }
  get weight(): tf.Tensor {
    return this.value("weight");
  }
  forward(pixelValues: tf.Tensor): tf.Tensor {
    return patchEmbed(pixelValues, this.weight); // [B, N, D]
  }
}

export class ClipVisionEmbeddings extends Module {
  patch_embedding: PatchConv;
  position_embedding: Embedding;

  constructor(config: ClipVisionConfig, rng: Rng) {
    super();
    const D = config.hidden_size;
    const f = config.initializer_factor;
    // HF's _init_weights: class token N(0, D^-½·f), conv and positions N(0, initializer_range·f).
    this.param("class_embedding", [D], normalInit(D ** -0.5 * f, rng));
    this.patch_embedding = this.module(
      "patch_embedding",
      new PatchConv(config.num_channels, D, config.patch_size, rng, config.initializer_range * f),
    );
    this.position_embedding = this.module(
      "position_embedding",
      new Embedding(numPatches(config) + 1, D, normalInit(config.initializer_range * f, rng)),
    );
  }

  get class_embedding(): tf.Tensor {
    return this.value("class_embedding");
  }

  /** `[B, C, H, W]` → `[B, S, D]`; the caller has checked the image size. */
  forward(pixelValues: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const B = pixelValues.shape[0];
      const D = this.parameter("class_embedding").shape[0];
      const patches = this.patch_embedding.forward(pixelValues); // [B, N, D]
      const cls = this.class_embedding.reshape([1, 1, D]).tile([B, 1, 1]); // [B, 1, D]
      const x = tf.concat([cls, patches], 1); // [B, S, D]
      // position_ids are arange(S): every row of the table, in order, so no gather is needed.
      return x.add(this.position_embedding.weight); // [B, S, D]
    });
  }
}
