// LlavaForConditionalGeneration (transformers 4.46 models/llava/modeling_llava.py): a CLIP vision tower,
// a projector and a Qwen2 decoder; image features replace the embeddings of the image tokens.
// Shape legend: B batch, T tokens, I images, L image tokens per image, Dv vision width, E text width.

import { ClipVisionModel } from "@llava-ts/clip";
import type { AsyncFolderSource, PretrainedOptions, WrittenCheckpoint } from "@llava-ts/core";
import { IGNORE_INDEX, Module, ShapeError } from "@llava-ts/core";
import { LlavaMultiModalProjector, mergeImageFeatures, selectImageFeatures } from "@llava-ts/projector";
import {
  type CausalLMLossOutput,
  type CausalLMOutput,
  type GenerateOptions,
  type GenerateOutput,
  type GenerateStep,
  generate,
  generateStream,
  type LogitsMode,
  Qwen2ForCausalLM,
} from "@llava-ts/qwen";
import * as tf from "@tensorflow/tfjs-core";
import type { LlavaConfig } from "./llava-config.js";
import { fetchLlava, loadLlava, type SaveLlavaOptions, saveLlava } from "./pretrained.js";

type IntArrayLike = ArrayLike<number>;

export interface LlavaInput {
  /**
   * [B, T] token ids with each `<image>` already expanded to image_seq_length image tokens: a tensor, or
   * host values row-major (a collated batch's Int32Array: they stay on the host, as the merge needs them).
   */
  inputIds: tf.Tensor | IntArrayLike;
  /** Rows B of host-value inputs ([B·T] values); default 1. */
  batchSize?: number;
  /** [B, T], 1 = attend; omitted = all ones. */
  attentionMask?: tf.Tensor | IntArrayLike;
  /** [I, 3, H, W], one image per run of image tokens, in order. */
  pixelValues?: tf.Tensor;
  /** Precomputed projector output [I, L, E] instead of pixel values (a frozen tower runs once, outside autograd). */
  imageFeatures?: tf.Tensor;
  /**
   * [B, T, E] token embeddings of `inputIds`, looked up by the caller (the trainer gathers them outside the
   * gradient tape and scatters their gradient into embed_tokens' rows itself); image features still replace
   * the image tokens' rows.
   */
  textEmbeds?: tf.Tensor;
  /** [B, T]; -100 ignored; positions with attention mask 0 are ignored too, as HF's llava loss does. */
  labels?: tf.Tensor | IntArrayLike;
  logitsMode?: LogitsMode;
}

export interface LlavaInitOptions {
  init?: "normal" | "zeros";
  seed?: number;
}

export class LlavaForConditionalGeneration extends Module {
  vision_tower: ClipVisionModel;
  multi_modal_projector: LlavaMultiModalProjector;
  language_model: Qwen2ForCausalLM;

  constructor(
    readonly config: LlavaConfig,
    options: LlavaInitOptions = {},
  ) {
    super();
    const seed = options.seed ?? 0;
    this.vision_tower = this.module("vision_tower", new ClipVisionModel(config.vision_config, { seed }));
    this.multi_modal_projector = this.module(
      "multi_modal_projector",
      new LlavaMultiModalProjector(config.vision_config.hidden_size, config.text_config.hidden_size, {
        hiddenAct: config.projector_hidden_act,
        initializerRange: config.text_config.initializer_range,
        seed: seed + 1,
      }),
    );
    this.language_model = this.module(
      "language_model",
      new Qwen2ForCausalLM(config.text_config, { init: options.init, seed: seed + 2 }),
    );
  }

  /**
   * Recompute each decoder layer (and each vision layer, when the tower trains) in the backward pass instead
   * of keeping its activations — HF's gradient_checkpointing_enable().
   */
  get gradientCheckpointing(): boolean {
    return this.language_model.model.gradientCheckpointing;
  }
  set gradientCheckpointing(on: boolean) {
    this.language_model.model.gradientCheckpointing = on;
    this.vision_tower.vision_model.encoder.gradientCheckpointing = on;
  }

  /** The selected vision layer without CLS (strategy "default"), before the projector: [I, L, Dv]. */
  visionFeatures(pixelValues: tf.Tensor): tf.Tensor {
    const { vision_feature_layer: layer, vision_feature_select_strategy: strategy } = this.config;
    return tf.tidy(() => selectImageFeatures(this.vision_tower.hiddenState(pixelValues, layer), strategy)); // [I, L, Dv]
  }

  /** HF's get_image_features: projector(selected vision layer) → [I, L, E]. */
  getImageFeatures(pixelValues: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.multi_modal_projector.forward(this.visionFeatures(pixelValues)));
  }

  /** Token embeddings with the image features scattered in at the image tokens: [B, T, E]. */
  embedInputs(
    inputIds: Int32Array,
    shape: [number, number],
    imageFeatures?: tf.Tensor,
    textEmbeds?: tf.Tensor,
  ): tf.Tensor {
    const [B, T] = shape;
    const E = this.config.text_config.hidden_size;
    if (textEmbeds && textEmbeds.shape.join() !== [B, T, E].join())
      throw new ShapeError(
        `textEmbeds must be [${B}, ${T}, ${E}] (the input ids' [B, T] and the text width), got [${textEmbeds.shape}]`,
        [B, T, E],
        textEmbeds.shape,
      );
    return tf.tidy(() => {
      const embeds = textEmbeds ?? this.language_model.model.embed_tokens.lookup(inputIds, [B, T]); // [B, T, E]
      const imageToken = this.config.image_token_index;
      if (!imageFeatures) {
        const n = inputIds.reduce((a, id) => a + (id === imageToken ? 1 : 0), 0);
        if (n > 0)
          throw new ShapeError(
            `input has ${n} image tokens but no pixel values or image features were given`,
          );
        return embeds;
      }
      return mergeImageFeatures(embeds, inputIds, imageFeatures, imageToken); // [B, T, E]
    });
  }

  /**
   * Loads an HF llava folder (config.json + safetensors, single or sharded), strictly. A model over half
   * the heap budget keeps its weights in the checkpoint (`offload`, see PretrainedOptions).
   */
  static fromPretrained(dir: string, options?: PretrainedOptions): LlavaForConditionalGeneration;
  /** The same from a URL (HTTP range requests, no shard downloaded whole), a ModelFolder or files in memory. */
  static fromPretrained(
    source: AsyncFolderSource,
    options?: PretrainedOptions,
  ): Promise<LlavaForConditionalGeneration>;
  static fromPretrained(
    source: string | AsyncFolderSource,
    options: PretrainedOptions = {},
  ): LlavaForConditionalGeneration | Promise<LlavaForConditionalGeneration> {
    return typeof source === "string" ? loadLlava(source, options) : fetchLlava(source, options);
  }

  /** config.json + weights in transformers' layout, sharded past `maxShardSize` (default "5GB"). */
  savePretrained(dir: string, options: SaveLlavaOptions = {}): Promise<WrittenCheckpoint> {
    return saveLlava(this, dir, options);
  }

  /** Greedy or sampled continuation; everything Qwen2's generate offers, plus `pixelValues`. */
  generate(inputIds: tf.Tensor | IntArrayLike, options: LlavaGenerateOptions = {}): Promise<GenerateOutput> {
    return generateLlava(this, inputIds, options);
  }

  /** The same, yielding each step's tokens as they are chosen. */
  stream(
    inputIds: tf.Tensor | IntArrayLike,
    options: LlavaGenerateOptions = {},
  ): AsyncGenerator<GenerateStep> {
    return streamLlava(this, inputIds, options);
  }

  forward(input: LlavaInput & { logitsMode: "none" }): CausalLMLossOutput;
  forward(input: LlavaInput & { logitsMode?: Exclude<LogitsMode, "none"> }): CausalLMOutput;
  forward(input: LlavaInput): CausalLMOutput | CausalLMLossOutput;
  forward(input: LlavaInput): CausalLMOutput | CausalLMLossOutput {
    const [B, T] = batchShape(input.inputIds, input.batchSize);
    const ids = toInt32(input.inputIds, B * T, "inputIds");
    const mask =
      input.attentionMask === undefined ? undefined : toInt32(input.attentionMask, B * T, "attentionMask");
    let labels: Int32Array | undefined;
    if (input.labels !== undefined) {
      // HF's llava loss drops positions whose attention mask is 0 as well as label -100.
      labels = toInt32(input.labels, B * T, "labels").map((y, i) =>
        mask && mask[i] === 0 ? IGNORE_INDEX : y,
      );
    }
    const embeds = tf.tidy(() => {
      const features =
        input.imageFeatures ?? (input.pixelValues ? this.getImageFeatures(input.pixelValues) : undefined);
      return this.embedInputs(ids, [B, T], features, input.textEmbeds);
    });
    try {
      return this.language_model.forward({
        // HF's forward numbers positions 0…T-1 in every row; right padding (training) keeps that exact.
        inputsEmbeds: embeds,
        attentionMask: mask,
        labels,
        logitsMode: input.logitsMode,
      });
    } finally {
      if (embeds !== input.textEmbeds) embeds.dispose(); // the caller's own tensor when nothing was merged in
    }
  }
}

export interface LlavaGenerateOptions extends Omit<GenerateOptions, "inputsEmbeds"> {
  /** [I, 3, H, W] for the image tokens of the prompt. */
  pixelValues?: tf.Tensor;
}

/** Generation: the prompt's image tokens get the image features at prefill; then plain Qwen2 decoding. */
export function generateLlava(
  model: LlavaForConditionalGeneration,
  inputIds: tf.Tensor | IntArrayLike,
  options: LlavaGenerateOptions = {},
): Promise<GenerateOutput> {
  const { ids, shape, embeds, rest } = prefill(model, inputIds, options);
  return generate(model.language_model, toRows(ids, shape), { ...rest, inputsEmbeds: embeds }).finally(() =>
    embeds.dispose(),
  );
}

export async function* streamLlava(
  model: LlavaForConditionalGeneration,
  inputIds: tf.Tensor | IntArrayLike,
  options: LlavaGenerateOptions = {},
): AsyncGenerator<GenerateStep> {
  const { ids, shape, embeds, rest } = prefill(model, inputIds, options);
  try {
    yield* generateStream(model.language_model, toRows(ids, shape), { ...rest, inputsEmbeds: embeds });
  } finally {
    embeds.dispose();
  }
}

function prefill(
  model: LlavaForConditionalGeneration,
  inputIds: tf.Tensor | IntArrayLike,
  options: LlavaGenerateOptions,
) {
  const { pixelValues, ...rest } = options;
  const shape = batchShape(inputIds);
  const ids = toInt32(inputIds, shape[0] * shape[1], "inputIds");
  const embeds = tf.tidy(() =>
    model.embedInputs(ids, shape, pixelValues ? model.getImageFeatures(pixelValues) : undefined),
  );
  return { ids, shape, embeds, rest };
}

function toRows(ids: Int32Array, [B, T]: [number, number]): number[][] {
  return Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)));
}

export function batchShape(x: tf.Tensor | IntArrayLike, rows = 1): [number, number] {
  if (x instanceof tf.Tensor) {
    if (x.rank !== 2)
      throw new ShapeError(`inputIds: expected [B, T], found [${x.shape}]`, ["B", "T"], x.shape);
    const [b, t] = x.shape as number[];
    return [b, t];
  }
  if (!Number.isInteger(rows) || rows < 1 || x.length % rows !== 0)
    throw new ShapeError(`inputIds: ${x.length} values do not make ${rows} rows`);
  return [rows, x.length / rows];
}

export function toInt32(x: tf.Tensor | IntArrayLike, size: number, name: string): Int32Array {
  const data = x instanceof tf.Tensor ? x.dataSync() : x;
  if (data.length !== size) throw new ShapeError(`${name}: ${data.length} values, expected ${size}`);
  return Int32Array.from(data as ArrayLike<number>);
}
