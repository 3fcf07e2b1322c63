// Issue 8's figure: on the bench model, how long does training wait for data when images are decoded and
// preprocessed in worker threads? A synthetic CC3M-style dataset at the bench image size (112 px, 64 image
// tokens) goes through LlavaDataLoader → Trainer (freeze_vision); the loader reports the wait.
//   node bench/loader-wait.mjs [--steps 8] [--workers 1]   (after `pnpm build`)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend } from "@llava-ts/core";
import { generateSyntheticCaptions, LlavaDataLoader, LlavaDataset } from "@llava-ts/datasets";
import { Tokenizer } from "@llava-ts/tokenizer";
import { Trainer } from "@llava-ts/trainer";
import { buildBenchModel, imageTokens, PAD_TOKEN, SPEC } from "./bench-model.mjs";

const args = process.argv.slice(2);
const opt = (flag, fallback) => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : fallback);
const steps = opt("--steps", 8);
const numWorkers = opt("--workers", 1);
const fixtures =
  process.env.LLAVA_FIXTURES ?? resolve(fileURLToPath(new URL("../../shared/fixtures", import.meta.url)));

await initBackend();
const dir = mkdtempSync(join(tmpdir(), "llava-loader-wait-"));
try {
  // The processor folder a built LLaVA would have: the Qwen2.5 tokenizer after surgery + a 112 px CLIP config.
  const tokenizer = await Tokenizer.fromPretrained(join(fixtures, "tokenizers/qwen2.5"));
  tokenizer.addSpecialTokens(["<image>"]);
  tokenizer.padToken = "<|endoftext|>";
  await tokenizer.save(dir);
  const S = SPEC.vision_config.image_size;
  writeFileSync(
    join(dir, "preprocessor_config.json"),
    JSON.stringify({ size: { shortest_edge: S }, crop_size: { height: S, width: S }, resample: 3 }),
  );
  const batchSize = SPEC.batch.size;
  const { chatJson, imagesZip } = await generateSyntheticCaptions({
    out: join(dir, "data"),
    count: batchSize * (steps + 2),
    size: 2 * S,
    seed: 0,
  });
  const loader = new LlavaDataLoader({
    dataset: LlavaDataset.open({ file: chatJson, images: imagesZip }),
    processor: { tokenizer: dir, imageProcessor: dir, llava: { imageSeqLength: imageTokens() } },
    batchSize,
    seed: 0,
    numWorkers,
    collate: { padTokenId: PAD_TOKEN },
  });
  const model = buildBenchModel();
  const trainer = new Trainer(model, {
    strategy: "freeze_vision",
    optimizer: { lr: 1e-4 },
    maxSteps: steps,
    saveStrategy: "no",
    progress: false,
    outputDir: join(dir, "run"),
  });
  const t0 = performance.now();
  await trainer.train(loader);
  const seconds = (performance.now() - t0) / 1000;
  const stats = loader.stats();
  await loader.close();
  model.dispose();
  const steady =
    (stats.waitMs - stats.firstBatchWaitMs) / Math.max(1, stats.elapsedMs - stats.firstBatchWaitMs);
  console.log(
    JSON.stringify({
      figure: "loader.wait_fraction",
      workers: numWorkers,
      steps,
      seconds_per_step: +(seconds / steps).toFixed(3),
      wait_fraction: +stats.waitFraction.toFixed(4),
      wait_fraction_after_first_batch: +steady.toFixed(4),
      first_batch_wait_s: +(stats.firstBatchWaitMs / 1000).toFixed(2),
      batches: stats.batches,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
