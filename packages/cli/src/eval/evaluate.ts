// Evaluation of a LLaVA on a dataset, as HF Trainer.evaluate + a generation pass: the loss of every record
// (labels as in training; eval_loss is the mean of the batch losses weighted by batch size, as HF's
// evaluation loop computes it; perplexity = exp(eval_loss)), then each record's last answer generated from
// the turns before it and scored against the record's own answer (exact match, BLEU-4, CIDEr-D).
import {
  createSampleProcessor,
  type LlavaBatch,
  LlavaDataLoader,
  type LlavaDataset,
  type Turn,
} from "@llava-ts/datasets";
import { type CaptionScores, scoreCaptions } from "@llava-ts/eval";
import type { PreprocessMode } from "@llava-ts/processor";
import { evalBatchLoss } from "@llava-ts/trainer";
import type { GenerationSettings, LlavaSession, PromptRequest } from "../llava-session.js";

export interface EvaluateOptions {
  /** Records per forward pass and per generation batch (HF's per_device_eval_batch_size). Default 8. */
  batchSize?: number;
  generation?: GenerationSettings;
  /** Skip the generation pass (loss and perplexity only). */
  lossOnly?: boolean;
  imageMode?: PreprocessMode;
  /** Cut longer records to this many tokens for the loss (HF's model_max_length); default the tokenizer's. */
  modelMaxLength?: number;
  /** Called after each batch with the records done so far. */
  onProgress?: (done: number, total: number) => void;
}

export interface Prediction {
  /** Record index in the data file, and its id. */
  index: number;
  id: string;
  /** The last user turn before the answer. */
  prompt: string;
  reference: string;
  prediction: string;
  exact_match: boolean;
  bleu4: number;
  cider: number;
}

export interface EvalResult {
  /** Records evaluated (skipped ones excluded). */
  samples: number;
  skipped: number;
  loss: number;
  perplexity: number;
  /** Absent with lossOnly. */
  scores?: CaptionScores;
  predictions: Prediction[];
}

/** The prompt turns (everything before the last gpt turn) and that answer. */
export function splitLastAnswer(turns: readonly Turn[]): { prompt: Turn[]; answer: string } {
  const last = turns.map((t) => t.from).lastIndexOf("gpt");
  return { prompt: turns.slice(0, Math.max(0, last)), answer: last >= 0 ? turns[last].value : "" };
}

export async function evaluate(
  session: LlavaSession,
  dataset: LlavaDataset,
  options: EvaluateOptions = {},
): Promise<EvalResult> {
  const batchSize = options.batchSize ?? 8;
  const loader = new LlavaDataLoader({
    dataset,
    processor: await createSampleProcessor({
      tokenizer: session.dir,
      imageProcessor: session.dir,
      imageMode: options.imageMode ?? session.imageMode,
      llava: {
        imageSeqLength: session.model.config.image_seq_length,
        modelMaxLength: options.modelMaxLength,
      },
    }),
    batchSize,
    shuffle: false,
    collate: { padTokenId: session.model.config.pad_token_id ?? session.tokenizer.eosTokenId ?? 0 },
  });
  let lossSum = 0;
  let samples = 0;
  const rows: { index: number; id: string; prompt: Turn[]; reference: string; prediction: string }[] = [];
  try {
    for await (const batch of loader.epoch(0)) {
      if (batch.batchSize === 0) continue;
      lossSum += evalBatchLoss(session.model, batch) * batch.batchSize;
      samples += batch.batchSize;
      if (!options.lossOnly) {
        const requests = requestsOf(dataset, batch);
        const texts = await session.generate(requests, options.generation);
        batch.indices.forEach((index, k) => {
          const rec = dataset.record(index);
          const { prompt, answer } = splitLastAnswer(rec.conversations);
          rows.push({ index, id: rec.id, prompt, reference: answer, prediction: texts[k] });
        });
      }
      options.onProgress?.(samples, dataset.length);
    }
  } finally {
    await loader.close();
  }
  const loss = samples > 0 ? lossSum / samples : Number.NaN;
  const result: EvalResult = {
    samples,
    skipped: dataset.report.summary().total,
    loss,
    perplexity: Math.exp(loss),
    predictions: [],
  };
  if (options.lossOnly) return result;
  const scores = scoreCaptions(
    rows.map((r) => r.prediction),
    rows.map((r) => r.reference),
  );
  result.scores = scores;
  result.predictions = rows.map((r, k) => {
    return {
      index: r.index,
      id: r.id,
      prompt: [...r.prompt].reverse().find((t) => t.from === "human")?.value ?? "",
      reference: r.reference,
      prediction: r.prediction,
      exact_match: scores.perSample[k].exactMatch,
      bleu4: scores.perSample[k].bleu4,
      cider: scores.perSample[k].cider,
    };
  });
  return result;
}

/** Generation requests for a loaded batch: each record's turns before its last answer, with its images. */
function requestsOf(dataset: LlavaDataset, batch: LlavaBatch): PromptRequest[] {
  const [, , S] = batch.pixelShape;
  const plane = 3 * S * S;
  let image = 0;
  return batch.indices.map((index) => {
    const rec = dataset.record(index);
    const images = rec.images.map(() => batch.pixelValues.subarray(plane * image, plane * ++image));
    return { turns: splitLastAnswer(rec.conversations).prompt, images };
  });
}
