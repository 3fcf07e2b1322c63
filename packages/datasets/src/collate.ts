// Turns processed samples into the model's batch: right padding (training), attention mask, labels -100 at
// padding, pixel values stacked. Plain typed arrays so a batch can be transferred from a worker thread.
import { IGNORE_INDEX, ShapeError } from "@llava-ts/core";
import type { SkippedRecord } from "./skip-report.js";

/** One record after the processor: ids/labels of equal length, and one [3,S,S] array per image. */
export interface ProcessedSample {
  index: number;
  inputIds: ArrayLike<number>;
  labels: ArrayLike<number>;
  pixelValues: Float32Array[]; // each [3, S, S]
  imageSize: number; // S (0 when the sample has no image)
  /** The length before the processor cut it to its model_max_length, when it did. */
  truncatedFrom?: number;
}

export interface CollateOptions {
  padTokenId: number;
  /** Round the padded length up (e.g. 8) for friendlier kernels; default 1. */
  padToMultipleOf?: number;
}

export interface LlavaBatch {
  /** Record indices of the rows, in order. */
  indices: number[];
  /** Records of this batch's slot that were skipped (onError "skip"); the batch is that much smaller. */
  skipped: SkippedRecord[];
  /** Rows cut to the processor's model_max_length: the record and its length before the cut. */
  truncated: { record: number; from: number }[];
  batchSize: number; // B
  seqLength: number; // T
  inputIds: Int32Array; // [B, T]
  attentionMask: Int32Array; // [B, T], 1 = token, 0 = padding
  labels: Int32Array; // [B, T], -100 where no loss is taken
  /** HF `pixel_values`: one row per image, in the order of the `<image>` tokens in the batch. */
  pixelValues: Float32Array; // [N, 3, S, S]
  pixelShape: [number, 3, number, number];
}

export function collate(
  samples: readonly ProcessedSample[],
  options: CollateOptions,
  skipped: SkippedRecord[] = [],
): LlavaBatch {
  const B = samples.length;
  let T = 0;
  let images = 0;
  let S = 0;
  for (const s of samples) {
    if (s.inputIds.length !== s.labels.length)
      throw new ShapeError(`record ${s.index}: ${s.inputIds.length} ids but ${s.labels.length} labels`);
    T = Math.max(T, s.inputIds.length);
    if (s.pixelValues.length > 0) {
      if (S !== 0 && s.imageSize !== S)
        throw new ShapeError(
          `record ${s.index}: image size ${s.imageSize} differs from ${S} earlier in the batch`,
        );
      S = s.imageSize;
      images += s.pixelValues.length;
    }
  }
  const m = options.padToMultipleOf ?? 1;
  T = Math.ceil(T / m) * m;
  const inputIds = new Int32Array(B * T).fill(options.padTokenId);
  const attentionMask = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  const plane = 3 * S * S;
  const pixelValues = new Float32Array(images * plane);
  let img = 0;
  samples.forEach((s, b) => {
    const row = b * T;
    for (let t = 0; t < s.inputIds.length; t++) {
      inputIds[row + t] = s.inputIds[t];
      labels[row + t] = s.labels[t];
      attentionMask[row + t] = 1;
    }
    for (const p of s.pixelValues) {
      if (p.length !== plane)
        throw new ShapeError(
          `record ${s.index}: pixel values have ${p.length} values, expected 3×${S}×${S}`,
          [3, S, S],
          [p.length],
        );
      pixelValues.set(p, img++ * plane);
    }
  });
  return {
    indices: samples.map((s) => s.index),
    skipped,
    truncated: samples.flatMap((s) =>
      s.truncatedFrom === undefined ? [] : [{ record: s.index, from: s.truncatedFrom }],
    ),
    batchSize: B,
    seqLength: T,
    inputIds,
    attentionMask,
    labels,
    pixelValues,
    pixelShape: [images, 3, S, S],
  };
}

/** The buffers to transfer (not copy) when posting a batch between threads. */
export function batchTransferList(batch: LlavaBatch): ArrayBuffer[] {
  return [batch.inputIds, batch.attentionMask, batch.labels, batch.pixelValues].map(
    (a) => a.buffer as ArrayBuffer,
  );
}
