// `pnpm demo`: the whole tutorial in miniature, with nothing downloaded. A synthetic CC3M-style captioning
// set is drawn; random tiny CLIP and Qwen2.5 checkpoints (with the real Qwen2.5 tokenizer) are built into a
// LLaVA by buildLlava; the model is trained from scratch with ZeRO-2 on every core (strategy "none"), then
// fine-tuned with use_lora to Chinese captions; held-out images are captioned by both.
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { initBackend } from "@llava-ts/core";
import { LlavaDataset } from "@llava-ts/datasets";
import { buildLlava } from "@llava-ts/llava";
import { trainLlava } from "@llava-ts/trainer";
import { type EvalResult, evaluate } from "../eval/evaluate.js";
import { formatEvalLines } from "../eval/run-eval.js";
import { type CliIO, formatSeconds } from "../io.js";
import { LlavaSession } from "../llava-session.js";
import { promptFormatOf, writePromptFormat } from "../prompt-format.js";
import { writeRunLossCurve } from "../train/loss-curve.js";
import { captionSet, trainingBatches } from "./caption-batches.js";
import { prepareDemoFolder } from "./demo-folder.js";
import { type DemoSettings, FULL_DEMO, QUICK_DEMO } from "./demo-settings.js";
import { writeTinyClip, writeTinyQwen } from "./tiny-checkpoints.js";

export interface DemoOptions {
  /** Working folder: new, empty, or an earlier demo's (wiped). Default ".demo". */
  out?: string;
  quick?: boolean;
  /** Default: 2 when the machine has two cores or more, else 1. */
  ranks?: number;
  seed?: number;
  settings?: DemoSettings;
  /** Images listed in the caption table. Default 8. */
  show?: number;
}

export interface DemoResult {
  baseAccuracy: number;
  adapterAccuracy: number;
  /** The held-out evaluations, as `llava eval` computes them on the same folders. */
  baseEval: EvalResult;
  adapterEval: EvalResult;
  baseLossCurve: string;
  loraLossCurve: string;
  seconds: number;
}

/** LoRA on every linear layer of the language model, the projector trained in full (the tutorial's). */
const LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

/**
 * The demo's one choice beyond the tutorial: the tied 151,936 × E token embedding keeps its random values.
 * Training it costs a dense V × E gradient, its reduce-scatter and AdamW over ~10 M values every step
 * (≈ 4× the rest of a step at this size); frozen random rows serve as well as input and output vectors
 * for a 64-wide model, so the transformer layers and the projector learn from scratch around them.
 */
const FROZEN = ["language_model.model.embed_tokens"];

export async function runDemo(options: DemoOptions, io: CliIO): Promise<DemoResult> {
  const t0 = performance.now();
  const s = options.settings ?? (options.quick ? QUICK_DEMO : FULL_DEMO);
  const seed = options.seed ?? 0;
  const ranks = options.ranks ?? Math.min(2, availableParallelism());
  const out = resolve(options.out ?? ".demo");
  const elapsed = () => formatSeconds((performance.now() - t0) / 1000);
  const say = (line: string) => io.stdout.write(`[${elapsed()}] ${line}\n`);
  prepareDemoFolder(out);
  const backend = await initBackend();
  say(`llava-ts demo in ${out} (backend ${backend}, ${ranks} rank${ranks > 1 ? "s" : ""}, seed ${seed})`);

  // 1. Data: the same drawing rules, two caption styles; held-out images come from another seed.
  say(`drawing ${s.trainImages} training + ${s.heldOutImages} held-out images per caption style…`);
  const size = s.sizes.imageSize;
  const en = await captionSet({
    out: join(out, "data/en"),
    count: s.trainImages,
    imageSize: size,
    seed: seed + 1,
    style: "en",
  });
  const zh = await captionSet({
    out: join(out, "data/zh"),
    count: s.trainImages,
    imageSize: size,
    seed: seed + 2,
    style: "zh",
  });
  const heldEn = await captionSet({
    out: join(out, "data/held-out-en"),
    count: s.heldOutImages,
    imageSize: size,
    seed: seed + 1000,
    style: "en",
    images: "both",
  });
  // The same held-out images (same seed), captioned in the second style.
  const heldZh = await captionSet({
    out: join(out, "data/held-out-zh"),
    count: s.heldOutImages,
    imageSize: size,
    seed: seed + 1000,
    style: "zh",
    images: "both",
  });
  say(
    `  ${en.chatJson} (+ images.zip), e.g. "${en.records[0].conversations[1].value}" / "${zh.records[0].conversations[1].value}"`,
  );

  // 2. Build: random checkpoints in the Hub's layouts → buildLlava, as for the real models.
  const clipDir = join(out, "checkpoints/tiny-clip");
  const qwenDir = join(out, "checkpoints/tiny-qwen2.5");
  await writeTinyClip(clipDir, s.sizes, seed + 10);
  await writeTinyQwen(qwenDir, s.sizes, seed + 20);
  const builtDir = join(out, "llava-built");
  const built = await buildLlava({ vision: clipDir, llm: qwenDir, out: builtDir, seed });
  say(
    `built ${builtDir}: <image> = ${built.imageTokenIndex}, pad = ${built.padTokenId}, vocabulary ${built.resize.newRows}`,
  );

  // 3. Train from scratch (every parameter) on every core.
  const baseBatches = await trainingBatches(en, builtDir, {
    batchSize: s.base.batchSize,
    steps: s.base.steps,
    seed,
    padTokenId: built.padTokenId,
  });
  say(
    `training from scratch: freeze_vision (the random CLIP tower and token embeddings stay fixed), ${s.base.steps} steps × ${s.base.batchSize} images, ZeRO-2 on ${ranks} rank(s)…`,
  );
  // The trained model (config, weights, the build's tokenizer and processor files) is the run's output.
  const baseDir = join(out, "llava-base");
  const base = await trainLlava({
    ranks,
    modelDir: builtDir,
    strategy: "freeze_vision",
    freeze: FROZEN,
    data: { batches: baseBatches },
    trainer: {
      outputDir: baseDir,
      optimizer: { lr: s.base.lr, weightDecay: 0 },
      schedule: { type: "cosine", warmupSteps: s.base.warmupSteps },
      maxSteps: s.base.steps,
      saveStrategy: "no",
      loggingSteps: 1,
      seed,
      progress: true,
    },
  });
  const baseLossCurve = await writeRunLossCurve(baseDir, base.logHistory);
  writePromptFormat(baseDir, promptFormatOf(en.records.map((r) => r.conversations)));
  say(`  loss ${first(base.losses)} → ${last(base.losses)}; model in ${baseDir}`);

  // 4. LoRA fine-tune to the second caption style.
  const loraBatches = await trainingBatches(zh, baseDir, {
    batchSize: s.lora.batchSize,
    steps: s.lora.steps,
    seed: seed + 1,
    padTokenId: built.padTokenId,
  });
  say(
    `fine-tuning with use_lora (r ${s.lora.r}, alpha ${s.lora.alpha}) to Chinese captions, ${s.lora.steps} steps…`,
  );
  const adapterDir = join(out, "adapter-zh");
  const lora = await trainLlava({
    ranks,
    modelDir: baseDir,
    strategy: "use_lora",
    freeze: FROZEN,
    lora: {
      r: s.lora.r,
      lora_alpha: s.lora.alpha,
      target_modules: LORA_TARGETS,
      modules_to_save: ["multi_modal_projector"],
    },
    data: { batches: loraBatches },
    trainer: {
      outputDir: adapterDir,
      optimizer: { lr: s.lora.lr, weightDecay: 0 },
      schedule: { type: "cosine", warmupSteps: s.lora.warmupSteps },
      maxSteps: s.lora.steps,
      saveStrategy: "no",
      loggingSteps: 1,
      seed,
      progress: true,
    },
  });
  const loraLossCurve = await writeRunLossCurve(adapterDir, lora.logHistory);
  writePromptFormat(adapterDir, promptFormatOf(zh.records.map((r) => r.conversations)));
  say(`  loss ${first(lora.losses)} → ${last(lora.losses)}; adapter in ${adapterDir}`);

  // 5. Held-out images: the base model's English captions and the adapter's Chinese ones, through the same
  // evaluation as `llava eval`.
  say(`captioning ${s.heldOutImages} held-out images…`);
  const baseEval = await evaluateHeldOut(baseDir, undefined, heldEn);
  const adapterEval = await evaluateHeldOut(baseDir, adapterDir, heldZh);
  const show = Math.min(options.show ?? 8, s.heldOutImages);
  io.stdout.write(`\n${"held-out image".padEnd(26)}${"base model".padEnd(40)}base + adapter-zh\n`);
  for (let i = 0; i < show; i++) {
    const mark = (ok: boolean) => (ok ? "✓" : "✗");
    const clip = (t: string) => (t.length > 34 ? `${t.slice(0, 33)}…` : t);
    const b = baseEval.predictions[i];
    const z = adapterEval.predictions[i];
    io.stdout.write(
      `${heldEn.records[i].image.padEnd(26)}${`${mark(b.exact_match)} ${clip(b.prediction)}`.padEnd(40)}${mark(z.exact_match)} ${clip(z.prediction)}\n`,
    );
  }
  const result: DemoResult = {
    baseAccuracy: baseEval.scores!.exactMatch,
    adapterAccuracy: adapterEval.scores!.exactMatch,
    baseEval,
    adapterEval,
    baseLossCurve,
    loraLossCurve,
    seconds: (performance.now() - t0) / 1000,
  };
  const cli = "llava";
  io.stdout.write(
    [
      "",
      `held-out evaluation, ${s.heldOutImages} images each:`,
      "  base model, English captions:",
      ...formatEvalLines(baseEval).map((l) => `    ${l}`),
      "  base + LoRA adapter, Chinese captions:",
      ...formatEvalLines(adapterEval).map((l) => `    ${l}`),
      `  (the same as: ${cli} eval --model ${baseDir} --adapter ${adapterDir} --data ${heldZh.chatJson} --images ${heldZh.imagesZip} --per-device-eval-batch-size ${EVAL_BATCH} --max-new-tokens ${EVAL_MAX_NEW_TOKENS})`,
      `loss curves: ${result.baseLossCurve}`,
      `             ${result.loraLossCurve}`,
      `metrics:     ${join(baseDir, "metrics.jsonl")}, ${join(adapterDir, "metrics.jsonl")}`,
      `try it:      ${cli} infer --model ${baseDir} --adapter ${adapterDir} --image ${join(heldZh.imagesDir!, heldZh.records[0].image)} --prompt "${heldZh.records[0].conversations[0].value.replace("<image>", "").trim()}"`,
      `done in ${formatSeconds(result.seconds)}`,
      "",
    ].join("\n"),
  );
  return result;

  async function evaluateHeldOut(modelDir: string, adapter: string | undefined, set: typeof heldEn) {
    const session = await LlavaSession.load(modelDir, { adapter });
    const dataset = LlavaDataset.open({ file: set.chatJson, images: set.imagesZip });
    try {
      return await evaluate(session, dataset, {
        batchSize: EVAL_BATCH,
        generation: { maxNewTokens: EVAL_MAX_NEW_TOKENS },
      });
    } finally {
      dataset.close();
      session.dispose();
    }
  }
}

/** Held-out evaluation settings (the demo's captions are short). */
const EVAL_BATCH = 32;
const EVAL_MAX_NEW_TOKENS = 24;

const first = (xs: number[]) => (xs.length ? xs[0].toFixed(3) : "–");
const last = (xs: number[]) => (xs.length ? xs[xs.length - 1].toFixed(3) : "–");
