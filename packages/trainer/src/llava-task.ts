// The LLaVA loss for training: a frozen vision tower runs forward only, before the gradient tape starts,
// so it costs no tape memory and no backward kernels; logits are computed only where labels are set; a
// trained embedding table is looked up before the tape too, its gradient added row by row.
import { IGNORE_INDEX, type Module, OffloadedParameter } from "@llava-ts/core";
import type { LlavaBatch } from "@llava-ts/datasets";
import { checkTrainingStepFits, type LlavaConfig } from "@llava-ts/llava";
import * as tf from "@tensorflow/tfjs-core";
import type { BatchCounts, TrainTask } from "./train-task.js";
import { TrainingError } from "./training-error.js";

/** The surface of LlavaForConditionalGeneration the trainer uses (structural, to keep coupling thin). */
export interface LlavaLike extends Module {
  vision_tower: Module;
  multi_modal_projector: Module & { forward(x: tf.Tensor): tf.Tensor };
  /** Selected vision layer before the projector: [I, L, Dv]. */
  visionFeatures(pixelValues: tf.Tensor): tf.Tensor;
  forward(input: {
    inputIds: tf.Tensor | ArrayLike<number>;
    batchSize?: number;
    attentionMask?: tf.Tensor | ArrayLike<number>;
    pixelValues?: tf.Tensor;
    imageFeatures?: tf.Tensor;
    textEmbeds?: tf.Tensor;
    labels?: tf.Tensor | ArrayLike<number>;
    logitsMode?: "all" | "labelled" | "none";
  }): { loss?: tf.Scalar };
}

/** The text embedding table, where the model has the usual layout (language_model.model.embed_tokens). */
function embeddingTable(model: LlavaLike): tf.Variable | undefined {
  const lm = (model as unknown as { language_model?: { model?: { embed_tokens?: Module } } }).language_model;
  // The parameter, not its value: an offloaded table is never brought into the heap just to be looked at.
  const w = lm?.model?.embed_tokens?.parameter("weight");
  return w instanceof tf.Variable ? w : undefined;
}

/** The parts of Qwen2ForCausalLM the heap estimate reads (structural, as LlavaLike). */
interface LanguageModelLike {
  lm_head?: Module;
  vocabChunkBytes?: number;
  model?: { embed_tokens?: Module; gradientCheckpointing?: boolean };
}

function frozen(m: Module): boolean {
  for (const [, p] of m.namedParameters()) if (p.trainable) return false;
  return true;
}

/** The heap estimate of core's wasm backend for this batch (llava's checkTrainingStepFits), when the model has a LLaVA config. */
function checkHeap(model: LlavaLike, batch: LlavaBatch): void {
  const config = (model as { config?: LlavaConfig }).config;
  if (!config?.text_config) return;
  const { batchSize: B, seqLength: T, labels } = batch;
  let labelled = 0; // positions whose next token is labelled: the rows of the logits
  for (let b = 0; b < B; b++) for (let t = 1; t < T; t++) if (labels[b * T + t] !== IGNORE_INDEX) labelled++;
  let trainable = 0;
  for (const [, p] of model.namedParameters()) if (p.trainable) trainable += p.size;
  // How the decoder runs: an offloaded output matrix is applied in vocabulary chunks, and checkpointed
  // layers keep only their inputs for the backward.
  const lm = (model as unknown as { language_model?: LanguageModelLike }).language_model;
  const out = (lm?.lm_head ?? lm?.model?.embed_tokens)?.parameter("weight");
  const E = config.text_config.hidden_size;
  checkTrainingStepFits(
    config,
    {
      batch: B,
      length: T,
      labelled,
      images: batch.pixelShape?.[0] ?? 0,
      visionTrains: !frozen(model.vision_tower),
      trainable,
      logitColumns:
        out instanceof OffloadedParameter
          ? Math.max(1, Math.floor((lm?.vocabChunkBytes ?? 64 * 2 ** 20) / (4 * E)))
          : undefined,
      checkpointed: lm?.model?.gradientCheckpointing === true,
    },
    batch.indices,
  );
}

export function llavaTask(model: LlavaLike): TrainTask<LlavaBatch> {
  return {
    count: countBatch,
    prepare(batch) {
      const { batchSize: B, seqLength: T } = batch;
      checkHeap(model, batch); // before anything is allocated: a batch that cannot fit is named, not run
      let pixels: tf.Tensor | undefined;
      if (batch.pixelShape[0] > 0) pixels = tf.tensor4d(batch.pixelValues, [...batch.pixelShape], "float32"); // [I, 3, S, S]
      const towerFrozen = frozen(model.vision_tower);
      const projectorFrozen = frozen(model.multi_modal_projector);
      // Outside any tape: the frozen tower's features (and the projector's, when it is frozen too).
      let fixed: tf.Tensor | undefined;
      if (pixels && towerFrozen)
        fixed = tf.tidy(() => {
          const v = model.visionFeatures(pixels!); // [I, L, Dv]
          return projectorFrozen ? model.multi_modal_projector.forward(v) : v; // [I, L, E] or [I, L, Dv]
        });
      // A trained embedding: its lookup is done here, outside the tape, and its gradient reaches the table
      // row by row (RowGradient) instead of as a dense [V, E] tensor added to the tied lm_head's.
      const table = embeddingTable(model);
      const textEmbeds = table?.trainable
        ? tf.tidy(() => tf.gather(table, tf.tensor2d(batch.inputIds, [B, T], "int32"))) // [B, T, E]
        : undefined;
      return {
        rowGradients:
          textEmbeds && table ? [{ input: textEmbeds, variable: table, rows: batch.inputIds }] : undefined,
        loss() {
          let imageFeatures: tf.Tensor | undefined;
          if (fixed) imageFeatures = projectorFrozen ? fixed : model.multi_modal_projector.forward(fixed); // [I, L, E]
          const out = model.forward({
            inputIds: batch.inputIds, // host ids: the model finds the image tokens there
            batchSize: B,
            attentionMask: batch.attentionMask,
            labels: batch.labels,
            pixelValues: towerFrozen ? undefined : pixels,
            imageFeatures,
            textEmbeds,
            // The loss alone: with an offloaded (vocabulary-chunked) output no [N, V] logits are formed.
            logitsMode: "none",
          });
          if (!out.loss) throw new TrainingError("the model returned no loss (are all labels -100?)");
          return out.loss;
        },
        dispose() {
          tf.dispose([pixels, fixed, textEmbeds].filter((t): t is tf.Tensor => t !== undefined));
        },
      };
    },
  };
}

/** Counts of a collated batch; `lossTokens` are the positions HF's llava loss averages over. */
export function countBatch(batch: LlavaBatch): BatchCounts {
  let tokens = 0;
  for (let i = 0; i < batch.attentionMask.length; i++) tokens += batch.attentionMask[i];
  return {
    samples: batch.batchSize,
    tokens,
    images: batch.pixelShape[0],
    lossTokens: labelledTokens(batch),
  };
}

/** Positions that enter HF's llava loss: labels[b, t+1] ≠ -100 with attention mask 1, t < T − 1. */
export function labelledTokens(batch: LlavaBatch): number {
  const { batchSize: B, seqLength: T, labels, attentionMask } = batch;
  let n = 0;
  for (let b = 0; b < B; b++)
    for (let t = 1; t < T; t++) if (labels[b * T + t] !== IGNORE_INDEX && attentionMask[b * T + t] !== 0) n++;
  return n;
}

/**
 * The mean loss over a batch's labelled tokens, forward only (no tape): one batch of HF's evaluation
 * loop. eval_loss over batches is Σ (this × batch size) / Σ batch size, as HF's evaluation_loop averages.
 */
export function evalBatchLoss(model: LlavaLike, batch: LlavaBatch): number {
  return tf.tidy(() => {
    const out = model.forward({
      inputIds: batch.inputIds, // host ids, as in training
      batchSize: batch.batchSize,
      attentionMask: batch.attentionMask,
      labels: batch.labels,
      pixelValues:
        batch.pixelShape[0] > 0
          ? tf.tensor4d(batch.pixelValues, [...batch.pixelShape], "float32")
          : undefined, // [I, 3, S, S]
      logitsMode: "none", // the loss alone, as in training: no [N, V] logits with an offloaded output
    });
    if (!out.loss)
      throw new TrainingError("the model returned no loss for an evaluation batch (are all labels -100?)");
    return out.loss.dataSync()[0];
  });
}
