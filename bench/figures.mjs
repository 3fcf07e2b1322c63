// One bench figure per process (so its RSS high-water mark is its own): `node figures.mjs <figure>
// --reps N --out file.json`. run.mjs starts one of these per figure and collects the JSON.
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { initBackend } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { benchBatch, buildBenchModel, IMAGE_TOKEN, imageTokens, LORA, SPEC } from "./bench-model.mjs";
import { trainStepFlops } from "./flops.mjs";
import { measureMatmulPeak, oneThreadPeak } from "./matmul-peak.mjs";
import { median } from "./stats.mjs";

const WARMUP = 1;

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The matmul peak with every thread this process uses, and that of one thread (one ZeRO-2 rank). */
async function matmulPeak(reps) {
  const all = measureMatmulPeak(reps, WARMUP);
  const one = await oneThreadPeak(reps);
  return { ...all, one_thread_gflops: one.gflops, one_thread_samples: one.samples };
}

/** Seconds per optimizer step of the Trainer on the bench batch (a task wrapper timestamps each step). */
async function trainStep(strategy, reps) {
  const { Trainer, llavaTask } = await import("@llava-ts/trainer");
  const model = buildBenchModel();
  const batch = benchBatch();
  const stamps = [];
  const cpu = [];
  const inner = llavaTask(model);
  const task = {
    count: inner.count,
    prepare: (b) => {
      stamps.push(performance.now());
      cpu.push(cpuSeconds());
      return inner.prepare(b);
    },
  };
  const steps = WARMUP + reps;
  const trainer = new Trainer(model, {
    strategy,
    strategyOptions: strategy === "use_lora" ? { lora: LORA } : undefined,
    optimizer: { lr: 1e-4, weightDecay: 0 },
    maxSteps: steps,
    progress: false,
    task,
  });
  const { losses } = await trainer.train(Array.from({ length: steps }, () => batch));
  stamps.push(performance.now());
  cpu.push(cpuSeconds());
  const times = stamps
    .slice(1)
    .map((t, i) => (t - stamps[i]) / 1000)
    .slice(WARMUP);
  const cpuTimes = cpu
    .slice(1)
    .map((t, i) => t - cpu[i])
    .slice(WARMUP);
  const s = median(times);
  const tokens = batch.batchSize * batch.seqLength;
  const flops = trainStepFlops(strategy);
  return {
    strategy,
    seconds_per_step: s,
    tokens_per_second: tokens / s,
    tokens_per_step: tokens,
    model_flops: flops.total,
    model_flops_per_second: flops.total / s,
    ranks: 1,
    // CPU time of this single-threaded process per step: what a step costs with a core to itself.
    cpu_seconds_per_step: median(cpuTimes),
    trainable: trainer.summary?.trainable,
    losses,
    samples: times,
  };
}

/** New tokens/s of 32 greedy tokens after a one-image prompt (whole generate call: tower, prefill, decode). */
async function generateGreedy(reps) {
  const model = buildBenchModel();
  const L = imageTokens();
  const T = L + SPEC.batch.text_tokens;
  const batch = benchBatch(1, 7);
  const ids = Array.from(batch.inputIds.subarray(0, T));
  const S = SPEC.vision_config.image_size;
  const pixels = tf.tensor4d(batch.pixelValues, [1, 3, S, S]);
  const n = SPEC.decode_tokens;
  const totals = [];
  const decodes = [];
  const firsts = [];
  let tokens;
  for (let i = 0; i < WARMUP + reps; i++) {
    const stamps = [];
    const t0 = performance.now();
    const out = await model.generate(ids, {
      pixelValues: pixels,
      maxNewTokens: n,
      eosTokenId: [], // random weights: never stop early
      onToken: () => stamps.push(performance.now()),
    });
    const t1 = performance.now();
    if (out.newTokens[0].length !== n)
      throw new Error(`generated ${out.newTokens[0].length} tokens, expected ${n}`);
    tokens = out.newTokens[0];
    if (i < WARMUP) continue;
    totals.push((t1 - t0) / 1000);
    firsts.push((stamps[0] - t0) / 1000);
    decodes.push((stamps[n - 1] - stamps[0]) / 1000 / (n - 1));
  }
  pixels.dispose();
  const s = median(totals);
  return {
    new_tokens: n,
    prompt_tokens: T,
    image_tokens: ids.filter((id) => id === IMAGE_TOKEN).length,
    seconds: s,
    new_tokens_per_second: n / s,
    prefill_seconds: median(firsts),
    decode_tokens_per_second: 1 / median(decodes),
    tokens,
    samples: totals,
  };
}

/** CLIP-336 preprocessing (decode + resize + crop + normalise) of 640×480 JPEGs, one after another. */
async function imageProcessor(reps) {
  const sharp = (await import("sharp")).default;
  const { ClipImageProcessor } = await import("@llava-ts/processor");
  const processor = ClipImageProcessor.fromConfig({
    crop_size: 336,
    do_center_crop: true,
    do_normalize: true,
    do_resize: true,
    image_mean: [0.48145466, 0.4578275, 0.40821073],
    image_std: [0.26862954, 0.26130258, 0.27577711],
    resample: 3,
    size: 336,
  }); // openai/clip-vit-large-patch14-336's preprocessor_config.json
  const W = 640;
  const H = 480;
  const images = [];
  for (let k = 0; k < 8; k++) {
    const raw = Buffer.alloc(W * H * 3);
    for (let i = 0; i < raw.length; i++)
      raw[i] = ((i * 2654435761 + k * 97) >>> 24) ^ ((i / 3) % W) ^ (k * 31);
    images.push(
      await sharp(raw, { raw: { width: W, height: H, channels: 3 } })
        .jpeg({ quality: 90 })
        .toBuffer(),
    );
  }
  const rates = [];
  for (let i = 0; i < WARMUP + reps; i++) {
    const t0 = performance.now();
    for (const img of images) {
      const px = await processor.preprocess(img);
      if (px.shape[1] !== 336 || px.shape[2] !== 336) throw new Error(`pixel values [${px.shape}]`);
    }
    const s = (performance.now() - t0) / 1000;
    if (i >= WARMUP) rates.push(images.length / s);
  }
  return { images_per_second: median(rates), image: `${W}x${H} JPEG`, samples: rates };
}

async function zero2Step(N, strategy, reps) {
  const { trainZero2Bench } = await import("./zero2-bench.mjs");
  return trainZero2Bench(N, strategy, reps, WARMUP);
}

const FIGURES = {
  "backend.matmul_peak": matmulPeak,
  "train_step.freeze_vision": (reps) => trainStep("freeze_vision", reps),
  "train_step.use_lora": (reps) => trainStep("use_lora", reps),
  "train_step.zero2.1": (reps) => zero2Step(1, "freeze_vision", reps),
  "train_step.zero2.2": (reps) => zero2Step(2, "freeze_vision", reps),
  "train_step.zero2.2.use_lora": (reps) => zero2Step(2, "use_lora", reps),
  "generate.greedy": generateGreedy,
  image_processor: imageProcessor,
};

async function main() {
  const args = process.argv.slice(2);
  const name = args[0];
  const opt = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const reps = Number(opt("--reps") ?? SPEC.reps);
  const out = opt("--out");
  const fn = FIGURES[name];
  if (!fn) throw new Error(`unknown figure "${name}"; known: ${Object.keys(FIGURES).join(", ")}`);
  const backend = await initBackend();
  const t0 = performance.now();
  const result = await fn(reps);
  const usage = process.resourceUsage();
  const record = {
    figure: name,
    backend,
    reps,
    ...result,
    peak_rss_mb: usage.maxRSS / 1024, // KiB on Linux: this process and its worker threads
    wall_seconds: (performance.now() - t0) / 1000,
  };
  if (out) writeFileSync(out, JSON.stringify(record));
  else console.log(JSON.stringify(record));
}

await main();
