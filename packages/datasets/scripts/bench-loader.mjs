// How long a training loop waits on data: CC3M-style synthetic data at CLIP-336 size through the real
// processors (576 image tokens), a consumer that blocks its thread for `stepMs` per batch as a synchronous
// wasm training step does. Prints the loader's wait fraction for several worker counts.
// Usage: node scripts/bench-loader.mjs [stepMs=1500] [batches=12] [batchSize=4]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { devBuild } from "./dev-build.mjs";

const [stepMs = 1500, batches = 12, batchSize = 4] = process.argv.slice(2).map(Number);
const ds = await devBuild();
const fixtures = process.env.LLAVA_FIXTURES ?? resolve(import.meta.dirname, "../../../../shared/fixtures");
const out = mkdtempSync(join(tmpdir(), "llava-bench-loader-"));
const gen = await ds.generateSyntheticCaptions({
  out,
  count: batches * batchSize,
  size: 480,
  seed: 1,
  images: "zip",
});
const spec = {
  tokenizer: join(fixtures, "tokenizers/qwen2.5"),
  addImageToken: true,
  imageProcessor: JSON.parse(
    readFileSync(join(fixtures, "image-processor/preprocessor_config.json"), "utf8"),
  ),
  llava: { imageSeqLength: 576 },
};
const busy = (ms) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};
const results = [];
for (const numWorkers of [0, 1, 2]) {
  const dataset = ds.LlavaDataset.open({ file: gen.chatJson, images: gen.imagesZip });
  const loader = new ds.LlavaDataLoader({
    dataset,
    processor: spec,
    batchSize,
    seed: 0,
    numWorkers,
    collate: { padTokenId: 151643 },
  });
  // Warm-up epoch 0's first batch is included in the stats as firstBatchWaitMs (worker start-up).
  const t0 = performance.now();
  for await (const _batch of loader.epoch(0)) busy(stepMs);
  const s = loader.stats();
  results.push({
    numWorkers,
    batches: s.batches,
    wallS: +((performance.now() - t0) / 1000).toFixed(1),
    waitMs: Math.round(s.waitMs),
    firstBatchWaitMs: Math.round(s.firstBatchWaitMs),
    waitFraction: +s.waitFraction.toFixed(4),
    waitFractionAfterFirst: +((s.waitMs - s.firstBatchWaitMs) / (s.elapsedMs - s.firstBatchWaitMs)).toFixed(
      4,
    ),
  });
  await loader.close();
  dataset.close();
}
console.log(JSON.stringify({ stepMs, batchSize, imageSize: 480, cropTo: 336, results }, null, 2));
rmSync(out, { recursive: true, force: true });
