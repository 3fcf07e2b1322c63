// One batch slot: read each record, run the processor, collate what succeeded. Shared by the main thread
// (numWorkers 0) and the worker threads, so both produce identical batches.
import { DataError } from "@llava-ts/core";
import { type CollateOptions, collate, type LlavaBatch, type ProcessedSample } from "./collate.js";
import type { LlavaDataset, RawSample } from "./llava-dataset.js";
import type { SampleProcessor } from "./sample-processor.js";
import type { SkippedRecord } from "./skip-report.js";

/** Decodes and preprocesses the images and builds ids/labels; bad data becomes a DataError naming the record. */
export async function processSample(
  raw: RawSample,
  processor: SampleProcessor,
  file: string,
): Promise<ProcessedSample> {
  const pixelValues: Float32Array[] = [];
  let imageSize = 0;
  for (let k = 0; k < raw.images.length; k++) {
    let px: { data: Float32Array; shape: readonly [number, number, number] };
    try {
      px = await processor.image.preprocess(raw.images[k], { mode: processor.imageMode });
    } catch (err) {
      throw new DataError(
        `cannot decode image "${raw.imageNames[k]}": ${(err as Error).message}`,
        file,
        raw.index,
        "undecodable_image",
      );
    }
    imageSize = px.shape[1];
    pixelValues.push(px.data);
  }
  let built: { inputIds: ArrayLike<number>; labels: ArrayLike<number>; truncatedFrom?: number };
  try {
    built = processor.text.buildTrainingSample(raw.conversations, {
      mode: raw.mode,
      numImages: raw.images.length,
      file,
      record: raw.index,
    });
  } catch (err) {
    if (err instanceof DataError && err.record !== undefined) throw err;
    throw new DataError(
      `processor rejected the conversation: ${(err as Error).message}`,
      file,
      raw.index,
      "processing_failed",
    );
  }
  return {
    index: raw.index,
    inputIds: built.inputIds,
    labels: built.labels,
    pixelValues,
    imageSize,
    truncatedFrom: built.truncatedFrom,
  };
}

/** A batch from `indices` plus the records that failed (DataErrors only; any other error propagates). */
export async function processBatch(
  dataset: LlavaDataset,
  indices: ArrayLike<number>,
  processor: SampleProcessor,
  options: CollateOptions,
): Promise<LlavaBatch> {
  const results = await Promise.all(
    Array.from(indices, async (i): Promise<ProcessedSample | SkippedRecord> => {
      try {
        return await processSample(dataset.get(i), processor, dataset.file);
      } catch (err) {
        if (!(err instanceof DataError)) throw err;
        return { record: i, reason: err.reason ?? "processing_failed", message: err.message };
      }
    }),
  );
  const ok = results.filter((r): r is ProcessedSample => "inputIds" in r);
  const failed = results.filter((r): r is SkippedRecord => !("inputIds" in r));
  return collate(ok, options, failed);
}
