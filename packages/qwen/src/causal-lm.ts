// Qwen2ForCausalLM: Qwen2Model + lm_head (tied to embed_tokens when tie_word_embeddings), HF's loss.
// Shape legend: B batch, T positions, E hidden size, V vocabulary, N labelled positions.

import {
  type AsyncFolderSource,
  causalLmLoss,
  chunkedCrossEntropy,
  chunkedLogits,
  crossEntropy,
  emptyWeights,
  Linear,
  LlavaError,
  labelledPositions,
  linear,
  localPath,
  type ModelFolder,
  Module,
  normalInit,
  OffloadedParameter,
  type Parameter,
  type PretrainedOptions,
  Rng,
  resolveOffload,
  toModelFolder,
  zerosInit,
} from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { fetchQwen2Config, loadQwen2Config, type Qwen2Config } from "./config.js";
import {
  type GenerateOptions,
  type GenerateOutput,
  type GenerateStep,
  generate,
  generateStream,
} from "./generate.js";
import { type IntInput, intArray } from "./inputs.js";
import { Qwen2Model, type Qwen2ModelInput } from "./model.js";
import { fetchQwen2Weights, loadQwen2Weights, saveQwen2Pretrained } from "./weights.js";

/**
 * Which positions get logits: "all" [B, T, V] as HF; "last" [B, 1, V] (generation); "labelled" [N, V], only
 * the N positions that predict a label (row order b, then t); "none": the loss alone (training — with a
 * vocabulary-chunked output the [N, V] logits are then never formed).
 */
export type LogitsMode = "all" | "last" | "labelled" | "none";

export interface CausalLMInput extends Qwen2ModelInput {
  /** [B, T]; -100 = ignored. Shifted inside as HF does: position t is scored on labels[t + 1]. */
  labels?: IntInput;
  logitsMode?: LogitsMode;
}

export interface CausalLMOutput {
  logits: tf.Tensor;
  /** Mean cross-entropy over labelled tokens (scalar), when labels were given. */
  loss?: tf.Scalar;
  hiddenStates?: tf.Tensor[];
}

/** What forward returns with logitsMode "none": the loss alone. */
export interface CausalLMLossOutput {
  loss: tf.Scalar;
  hiddenStates?: tf.Tensor[];
}

export interface Qwen2InitOptions {
  /** "normal": N(0, initializer_range²) for linear and embedding weights from `seed` (default); "zeros" for loading. */
  init?: "normal" | "zeros";
  seed?: number;
}

export class Qwen2ForCausalLM extends Module {
  model: Qwen2Model;
  lm_head?: Linear;
  /** Bytes of float32 per vocabulary chunk when the output matrix is offloaded (64 MiB). */
  vocabChunkBytes = 64 * 2 ** 20;

  constructor(
    readonly config: Qwen2Config,
    options: Qwen2InitOptions = {},
  ) {
    super();
    const init =
      (options.init ?? "normal") === "normal"
        ? normalInit(config.initializer_range, new Rng(options.seed ?? 0))
        : zerosInit;
    this.model = this.module("model", new Qwen2Model(config, init));
    // Tied: the output projection reads embed_tokens.weight, and there is no lm_head parameter at all.
    if (!config.tie_word_embeddings)
      this.lm_head = this.module(
        "lm_head",
        new Linear(config.hidden_size, config.vocab_size, { bias: false, init }),
      );
  }

  /**
   * Loads `<dir>/config.json` and its safetensors weights (strictly: every key, every shape), into the
   * heap or — `offload`, automatic for a model over half the heap budget — left in the checkpoint.
   */
  static fromPretrained(dir: string, options?: PretrainedOptions): Qwen2ForCausalLM;
  /** The same from a URL, a ModelFolder or files in memory. */
  static fromPretrained(source: AsyncFolderSource, options?: PretrainedOptions): Promise<Qwen2ForCausalLM>;
  static fromPretrained(
    source: string | AsyncFolderSource,
    options: PretrainedOptions = {},
  ): Qwen2ForCausalLM | Promise<Qwen2ForCausalLM> {
    if (typeof source !== "string") return Qwen2ForCausalLM.fromFolder(toModelFolder(source), options);
    const dir = localPath(source, "Qwen2ForCausalLM.fromPretrained");
    const model = emptyWeights(() => new Qwen2ForCausalLM(loadQwen2Config(dir), { init: "zeros" }));
    try {
      loadQwen2Weights(model, dir, { offload: resolveOffload(options.offload, model.numParameters()) });
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  private static async fromFolder(
    folder: ModelFolder,
    options: PretrainedOptions,
  ): Promise<Qwen2ForCausalLM> {
    const config = await fetchQwen2Config(folder);
    const model = emptyWeights(() => new Qwen2ForCausalLM(config, { init: "zeros" }));
    try {
      await fetchQwen2Weights(model, folder, {
        offload: resolveOffload(options.offload, model.numParameters()),
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  /** Writes config.json and model.safetensors (sharded past `maxShardSize`) as save_pretrained does. */
  savePretrained(dir: string, options: { maxShardSize?: number | string } = {}): Promise<void> {
    return saveQwen2Pretrained(this, dir, options);
  }

  /** lm_head.weight, or embed_tokens.weight when tied: [V, E]. */
  private outputWeight(): Parameter {
    return (this.lm_head ?? this.model.embed_tokens).parameter("weight");
  }

  /**
   * Hidden states [..., E] → logits [..., V]. An offloaded output matrix is applied in vocabulary chunks
   * (it never enters the heap whole).
   */
  logits(h: tf.Tensor): tf.Tensor {
    const w = this.outputWeight();
    if (!(w instanceof OffloadedParameter))
      return this.lm_head ? this.lm_head.forward(h) : linear(h, this.model.embed_tokens.weight);
    const E = h.shape[h.shape.length - 1];
    return tf.tidy(() =>
      chunkedLogits(h.reshape([-1, E]), w.vocabChunks(this.vocabChunkBytes)).reshape([
        ...h.shape.slice(0, -1),
        w.shape[0],
      ]),
    );
  }

  /** Mean cross-entropy of `targets` under the logits of h [N, E], chunked over the vocabulary when offloaded. */
  private labelledLoss(h: tf.Tensor, targets: Int32Array): { loss: tf.Scalar; logits?: tf.Tensor } {
    const w = this.outputWeight();
    if (w instanceof OffloadedParameter)
      return { loss: chunkedCrossEntropy(h, w.vocabChunks(this.vocabChunkBytes), targets) as tf.Scalar };
    const logits = this.logits(h); // [N, V]
    return { loss: crossEntropy(logits, targets) as tf.Scalar, logits };
  }

  forward(input: CausalLMInput & { logitsMode: "none" }): CausalLMLossOutput;
  forward(input: CausalLMInput & { logitsMode?: Exclude<LogitsMode, "none"> }): CausalLMOutput;
  forward(input: CausalLMInput): CausalLMOutput | CausalLMLossOutput;
  forward(input: CausalLMInput): CausalLMOutput | CausalLMLossOutput {
    const mode = input.logitsMode ?? "all";
    const { lastHiddenState: h, hiddenStates } = this.model.forward(input);
    const [B, T, E] = h.shape;
    const labels = input.labels === undefined ? undefined : intArray(input.labels, B, T, "labels");
    // A type for tf.tidy (interfaces are not TensorContainers).
    type Out = { logits?: tf.Tensor; loss?: tf.Scalar };
    const out = tf.tidy((): Out => {
      if (mode === "all") {
        const logits = this.logits(h); // [B, T, V]
        return { logits, loss: labels ? (causalLmLoss(logits, labels) as tf.Scalar) : undefined };
      }
      const flat = h.reshape([B * T, E]); // [B·T, E]
      let loss: tf.Scalar | undefined;
      let labelled: tf.Tensor | undefined;
      if (labels) {
        const { rows, targets } = labelledPositions(labels, B, T);
        const hl = tf.gather(flat, tf.tensor1d(rows, "int32")); // [N, E]
        ({ loss, logits: labelled } = this.labelledLoss(hl, targets));
        // Chunked (offloaded) output: the [N, V] logits are formed only if the caller asked for them.
        if (!labelled && mode === "labelled") labelled = this.logits(hl);
      }
      if (mode === "labelled" || mode === "none") {
        if (!loss) throw new LlavaError(`forward: logitsMode "${mode}" needs labels`);
        if (mode === "none") {
          labelled?.dispose();
          return { loss };
        }
        return { logits: labelled!, loss };
      }
      const last = tf.slice(h, [0, T - 1, 0], [B, 1, E]); // [B, 1, E]
      return { logits: this.logits(last), loss }; // [B, 1, V]
    });
    if (hiddenStates) return { ...out, hiddenStates } as CausalLMOutput | CausalLMLossOutput;
    h.dispose();
    return out as CausalLMOutput | CausalLMLossOutput;
  }

  /** Greedy or sampled continuation of `inputIds`; see GenerateOptions. */
  generate(inputIds: IntInput, options: GenerateOptions = {}): Promise<GenerateOutput> {
    return generate(this, inputIds, options);
  }

  /** The same loop as `generate`, yielding each step's tokens as they are chosen. */
  stream(inputIds: IntInput, options: GenerateOptions = {}): AsyncGenerator<GenerateStep> {
    return generateStream(this, inputIds, options);
  }
}
