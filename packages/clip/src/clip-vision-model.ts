// CLIPVisionModel (modeling_clip.py): the vision tower under `vision_model.*`, loadable from a vision-only
// checkpoint, a full CLIP checkpoint (text tower ignored) or a LLaVA checkpoint (`vision_tower.*`).
import {
  type AsyncFolderSource,
  emptyWeights,
  type JsonObject,
  loadFolderWeights,
  loadSafetensorsWeights,
  localPath,
  Module,
  type PretrainedOptions,
  Rng,
  readFolderJson,
  readJsonFile,
  resolveOffload,
  toModelFolder,
} from "@llava-ts/core";
import { nodeBuiltin } from "@llava-ts/files";
import type * as tf from "@tensorflow/tfjs-core";
import { type ClipVisionConfig, parseClipVisionConfig } from "./clip-vision-config.js";
import { type ClipVisionOutput, ClipVisionTransformer } from "./clip-vision-transformer.js";

export interface ClipVisionModelOptions {
  /** Seed of the random initialisation (HF's _init_weights distributions). Default 0. */
  seed?: number;
}

export interface FromPretrainedOptions extends PretrainedOptions {
  /**
   * What precedes `vision_model.` in the checkpoint's keys. Default: "vision_tower." for a LLaVA
   * config, "" otherwise.
   */
  prefix?: string;
}

export class ClipVisionModel extends Module {
  vision_model: ClipVisionTransformer;

  constructor(
    readonly config: ClipVisionConfig,
    options: ClipVisionModelOptions = {},
  ) {
    super();
    this.vision_model = this.module(
      "vision_model",
      new ClipVisionTransformer(config, new Rng(options.seed ?? 0)),
    );
  }

  /**
   * Builds the model from `dir/config.json` and loads `dir`'s safetensors weights. Only
   * `<prefix>vision_model.*` is read (a CLIP text tower, `logit_scale`, the projections, a LLaVA
   * language model are ignored); among those, a missing, unexpected or wrong-shaped tensor raises a
   * WeightLoadError.
   */
  static fromPretrained(dir: string, options?: FromPretrainedOptions): ClipVisionModel;
  /** The same from a URL, a ModelFolder or files in memory: only the vision tower's tensors are fetched. */
  static fromPretrained(source: AsyncFolderSource, options?: FromPretrainedOptions): Promise<ClipVisionModel>;
  static fromPretrained(
    source: string | AsyncFolderSource,
    options: FromPretrainedOptions = {},
  ): ClipVisionModel | Promise<ClipVisionModel> {
    if (typeof source !== "string") return ClipVisionModel.fromFolder(source, options);
    const dir = localPath(source, "ClipVisionModel.fromPretrained");
    const configPath = nodeBuiltin("node:path", `reading ${dir}`).join(dir, "config.json");
    const { model, load } = ClipVisionModel.empty(readJsonFile(configPath), configPath, options);
    try {
      loadSafetensorsWeights(model, dir, load);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  private static async fromFolder(source: AsyncFolderSource, options: FromPretrainedOptions) {
    const folder = toModelFolder(source);
    const json = await readFolderJson(folder, "config.json");
    const { model, load } = ClipVisionModel.empty(json, folder.describe("config.json"), options);
    try {
      await loadFolderWeights(model, folder, load);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  /** The model of config `json` with empty weights, and how to load them. */
  private static empty(json: JsonObject, configPath: string, options: FromPretrainedOptions) {
    const model = emptyWeights(() => new ClipVisionModel(parseClipVisionConfig(json, configPath)));
    const prefix = options.prefix ?? (json.model_type === "llava" ? "vision_tower." : "");
    const load = {
      strict: true,
      rename: visionKeys(prefix),
      offload: resolveOffload(options.offload, model.numParameters()),
    };
    return { model, load };
  }

  /** `pixelValues` [B, C, H, W] → last_hidden_state [B, S, D], pooler_output [B, D], hidden_states. */
  forward(pixelValues: tf.Tensor, options: { outputHiddenStates?: boolean } = {}): ClipVisionOutput {
    return this.vision_model.forward(pixelValues, options);
  }

  /** hidden_states[layer] (e.g. LLaVA's vision_feature_layer -2), skipping the layers after it. */
  hiddenState(pixelValues: tf.Tensor, layer: number): tf.Tensor {
    return this.vision_model.hiddenState(pixelValues, layer); // [B, S, D]
  }
}

/** Keeps `<prefix>vision_model.*` minus the position_ids buffer older checkpoints saved. */
function visionKeys(prefix: string): (key: string) => string | undefined {
  return (key) => {
    if (!key.startsWith(`${prefix}vision_model.`)) return undefined;
    const k = key.slice(prefix.length);
    return k === "vision_model.embeddings.position_ids" ? undefined : k;
  };
}
