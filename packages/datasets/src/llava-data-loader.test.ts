import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DataError } from "@llava-ts/core";
import { ClipImageProcessor, LlavaProcessor } from "@llava-ts/processor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SHAREGPT_PREFIX, type TestFormats, writeTestFormats } from "../test/test-data.js";
import type { LlavaBatch } from "./collate.js";
import { createSampleProcessor, type ProcessorSpec } from "./create-sample-processor.js";
import { LlavaDataLoader } from "./llava-data-loader.js";
import { type DatasetSpec, LlavaDataset } from "./llava-dataset.js";
import type { SampleProcessor } from "./sample-processor.js";
import { writeZip } from "./zip-writer.js";

const fixtures = process.env.LLAVA_FIXTURES ?? resolve(import.meta.dirname, "../../../../shared/fixtures");
const clipConfig = JSON.parse(
  readFileSync(join(fixtures, "image-processor/preprocessor_config.json"), "utf8"),
);
// The real processors, small: 28×28 pixels, 4 image tokens per image.
const spec: ProcessorSpec = {
  tokenizer: join(fixtures, "tokenizers/qwen2.5"),
  addImageToken: true,
  imageProcessor: { ...clipConfig, size: { shortest_edge: 28 }, crop_size: { height: 28, width: 28 } },
  llava: { imageSeqLength: 4 },
};
const PAD = 151643;

const dir = mkdtempSync(join(tmpdir(), "llava-loader-"));
let data: TestFormats;
// Built once through the product path (tokenizer loads take seconds); loaders without workers share it.
let processor: SampleProcessor;
let text: LlavaProcessor;
let image: ClipImageProcessor;
const loaders: LlavaDataLoader[] = [];
const track = (l: LlavaDataLoader) => {
  loaders.push(l);
  return l;
};

beforeAll(async () => {
  data = await writeTestFormats(dir, 10, 40);
  processor = await createSampleProcessor(spec);
  text = processor.text as LlavaProcessor;
  image = processor.image as ClipImageProcessor;
});
afterAll(async () => {
  await Promise.all(loaders.map((l) => l.close()));
});

async function collect(loader: LlavaDataLoader, epoch: number, start = 0): Promise<LlavaBatch[]> {
  const out: LlavaBatch[] = [];
  for await (const b of loader.epoch(epoch, start)) out.push(b);
  return out;
}

/** Every row must equal what the processor gives for that record, padded on the right. */
async function expectProcessorRows(ds: LlavaDataset, batches: LlavaBatch[]): Promise<void> {
  for (const b of batches) {
    let img = 0;
    for (let row = 0; row < b.batchSize; row++) {
      const raw = ds.get(b.indices[row]);
      const want = text.buildTrainingSample(raw.conversations, {
        mode: raw.mode,
        numImages: raw.images.length,
      });
      const T = b.seqLength;
      const ids = Array.from(b.inputIds.subarray(row * T, (row + 1) * T));
      const labels = Array.from(b.labels.subarray(row * T, (row + 1) * T));
      const pad = T - want.inputIds.length;
      expect(ids).toEqual([...want.inputIds, ...Array(pad).fill(PAD)]);
      expect(labels).toEqual([...want.labels, ...Array(pad).fill(-100)]);
      expect(Array.from(b.attentionMask.subarray(row * T, (row + 1) * T))).toEqual([
        ...Array(want.inputIds.length).fill(1),
        ...Array(pad).fill(0),
      ]);
      for (const bytes of raw.images) {
        const px = await image.preprocess(bytes);
        expect(b.pixelValues.subarray(img * px.data.length, (img + 1) * px.data.length)).toEqual(px.data);
        img++;
      }
    }
    expect(b.pixelShape[0]).toBe(img);
  }
}

describe("LlavaDataLoader", () => {
  it("the product path wires the real processors as specified", () => {
    expect(text).toBeInstanceOf(LlavaProcessor);
    expect(image).toBeInstanceOf(ClipImageProcessor);
    expect(text.imageTokenId).toBe(151665);
    expect(text.imageSeqLength).toBe(4);
  });

  it("every format, from folder and zip: batches equal the processor's ids, labels and pixel values", async () => {
    const specs: DatasetSpec[] = [
      { file: data.cc3m.chatJson, images: data.cc3m.imagesZip! },
      { file: data.cc3m.chatJson, images: data.cc3m.imagesDir! },
      { file: data.sharegpt.file, images: { path: data.sharegpt.zip, prefix: SHAREGPT_PREFIX } },
      { file: data.textocr.file, format: "textocr", images: data.cc3m.imagesDir! },
      { file: data.instruct.file, images: data.cc3m.imagesZip! },
    ];
    for (const s of specs) {
      const ds = LlavaDataset.open(s);
      const loader = track(
        new LlavaDataLoader({ dataset: ds, processor, batchSize: 4, seed: 3, collate: { padTokenId: PAD } }),
      );
      const batches = await collect(loader, 0);
      expect(batches.length).toBe(loader.length);
      expect(batches.flatMap((b) => b.indices).sort((x, y) => x - y)).toEqual(
        Array.from({ length: ds.length }, (_, i) => i),
      );
      await expectProcessorRows(ds, batches);
    }
  });

  it("worker threads give the same batches in the same order as the main thread; stats and resume", async () => {
    const ds = LlavaDataset.open({
      file: data.sharegpt.file,
      images: { path: data.sharegpt.zip, prefix: SHAREGPT_PREFIX },
    });
    const opts = { dataset: ds, batchSize: 3, seed: 11, collate: { padTokenId: PAD } };
    const main = await collect(track(new LlavaDataLoader({ ...opts, processor })), 2);
    const threaded = track(new LlavaDataLoader({ ...opts, processor: spec, numWorkers: 2, prefetch: 3 }));
    const viaWorkers = await collect(threaded, 2);
    expect(viaWorkers).toEqual(main);
    expect(await collect(threaded, 2, 2)).toEqual(main.slice(2)); // exact resume from batch 2
    const other = await collect(threaded, 3);
    expect(other.map((b) => b.indices)).not.toEqual(main.map((b) => b.indices));
    const stats = threaded.stats();
    expect(stats.batches).toBe(main.length * 2 + other.length - 2);
    expect(stats.waitFraction).toBeGreaterThan(0);
    expect(stats.waitFraction).toBeLessThanOrEqual(1);
    expect(stats.waitMs).toBeGreaterThanOrEqual(stats.firstBatchWaitMs);
    await threaded.close();
    await threaded.close();
  });

  it("ranks get disjoint, equal shards of each epoch", async () => {
    const ds = LlavaDataset.open({ file: data.cc3m.chatJson, images: data.cc3m.imagesZip! });
    const shard = async (rank: number) => {
      const l = track(
        new LlavaDataLoader({
          dataset: ds,
          processor,
          batchSize: 2,
          seed: 1,
          rank,
          worldSize: 3,
          collate: { padTokenId: PAD },
        }),
      );
      return (await collect(l, 0)).flatMap((b) => b.indices);
    };
    const shards = [await shard(0), await shard(1), await shard(2)];
    expect(shards.map((s) => s.length)).toEqual([4, 4, 4]); // 10 records over 3 ranks, padded to 12
    expect(new Set(shards.flat()).size).toBe(10);
  });
});

describe("LlavaDataLoader bad images", () => {
  let file: string;
  let zip: string;
  beforeAll(() => {
    // Record 2's image is not an image at all (valid zip member, undecodable bytes).
    zip = join(dir, "with-garbage.zip");
    writeZip(
      zip,
      data.cc3m.records.map((r, i) => ({
        name: r.image,
        data:
          i === 2 ? Buffer.from("definitely not a jpeg") : readFileSync(join(data.cc3m.imagesDir!, r.image)),
      })),
    );
    file = data.cc3m.chatJson;
  });

  it('"raise": the consumer gets a DataError naming the file and record (through a worker)', async () => {
    const ds = LlavaDataset.open({ file, images: zip });
    const loader = track(
      new LlavaDataLoader({
        dataset: ds,
        processor: spec,
        batchSize: 5,
        shuffle: false,
        numWorkers: 1,
        collate: { padTokenId: PAD },
      }),
    );
    const err = await collect(loader, 0).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.record).toBe(2);
    expect(err.reason).toBe("undecodable_image");
    expect(err.message).toMatch(/chat.json record 2: cannot decode image "GCC_train_000000003.jpg"/);
    await loader.close();
  });

  it('"skip": the batch shrinks, the record is counted by reason and listed in the batch', async () => {
    const ds = LlavaDataset.open({ file, images: zip, onError: "skip" });
    const loader = track(
      new LlavaDataLoader({
        dataset: ds,
        processor,
        batchSize: 5,
        shuffle: false,
        collate: { padTokenId: PAD },
      }),
    );
    const batches = await collect(loader, 0);
    expect(batches.map((b) => b.batchSize)).toEqual([4, 5]);
    expect(batches[0].indices).toEqual([0, 1, 3, 4]);
    expect(batches[0].skipped.map((s) => [s.record, s.reason])).toEqual([[2, "undecodable_image"]]);
    expect(loader.stats().skipped.byReason).toEqual({ undecodable_image: 1 });
    await expectProcessorRows(ds, batches);
  });

  it("a worker that cannot start fails the consumer instead of hanging", async () => {
    const ds = LlavaDataset.open({ file, images: zip });
    const loader = track(
      new LlavaDataLoader({
        dataset: ds,
        processor: { ...spec, tokenizer: join(dir, "no-such-tokenizer") },
        batchSize: 5,
        numWorkers: 1,
        collate: { padTokenId: PAD },
      }),
    );
    await expect(collect(loader, 0)).rejects.toThrow(/worker init failed/);
    await loader.close();
  });
});
