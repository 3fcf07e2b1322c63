// The demo's data: a CC3M-style synthetic captioning set (datasets' generator: chat.json + images.zip),
// read back through the real readers and processor into collated global batches for trainLlava.

import type { LlavaBatch } from "@llava-ts/datasets";
import {
  type CaptionStyle,
  collate,
  createSampleProcessor,
  epochPermutation,
  generateSyntheticCaptions,
  LlavaDataLoader,
  LlavaDataset,
  type ProcessedSample,
  type SyntheticCaptions,
} from "@llava-ts/datasets";
import { readLlavaConfig } from "@llava-ts/llava";

export interface CaptionSetOptions {
  out: string;
  count: number;
  imageSize: number;
  seed: number;
  style: "en" | "zh" | CaptionStyle;
  /** Default "zip" (training reads the zip); held-out sets also keep the files, to try `llava infer` on. */
  images?: "zip" | "both";
}

export function captionSet(o: CaptionSetOptions): Promise<SyntheticCaptions> {
  return generateSyntheticCaptions({
    out: o.out,
    count: o.count,
    size: o.imageSize,
    seed: o.seed,
    style: o.style,
    images: o.images ?? "zip",
  });
}

/**
 * `steps` global batches of `batchSize` records, drawn epoch after epoch in a seeded shuffled order, read
 * from `chat.json` + `images.zip` and processed with the model folder's tokenizer and image processor.
 */
export async function trainingBatches(
  set: SyntheticCaptions,
  modelDir: string,
  options: { batchSize: number; steps: number; seed: number; padTokenId: number },
): Promise<LlavaBatch[]> {
  const dataset = LlavaDataset.open({ file: set.chatJson, images: set.imagesZip });
  const { image_seq_length } = readLlavaConfig(modelDir);
  const processor = await createSampleProcessor({
    tokenizer: modelDir,
    imageProcessor: modelDir,
    llava: { imageSeqLength: image_seq_length },
  });
  // Each record is decoded and processed once, in file order; every epoch reuses them in a new order.
  const loader = new LlavaDataLoader({
    dataset,
    processor,
    batchSize: 1,
    shuffle: false,
    collate: { padTokenId: options.padTokenId },
  });
  const rows: ProcessedSample[] = [];
  try {
    for await (const b of loader.epoch(0))
      rows.push({
        index: b.indices[0],
        inputIds: b.inputIds,
        labels: b.labels,
        pixelValues: [b.pixelValues],
        imageSize: b.pixelShape[2],
      });
  } finally {
    await loader.close();
  }
  const { batchSize, steps } = options;
  if (rows.length < batchSize)
    throw new RangeError(`${rows.length} records cannot fill a batch of ${batchSize}`);
  const batches: LlavaBatch[] = [];
  for (let epoch = 0; batches.length < steps; epoch++) {
    const order = epochPermutation(rows.length, options.seed, epoch);
    for (let i = 0; i + batchSize <= order.length && batches.length < steps; i += batchSize) {
      const picked = Array.from(order.subarray(i, i + batchSize), (k) => rows[k]);
      batches.push(collate(picked, { padTokenId: options.padTokenId }));
    }
  }
  return batches;
}
