// Chapter 2 of the tutorial: train the built LLaVA with one of the four strategies (--train-type).
//
//   node train.mjs --model my-llava --data chat.json --images images.zip --train-type use_lora --output-dir out
//
// --model is a LLaVA folder, such as the one ../01-build-model writes. Without --data it draws a tiny
// dataset; without --train-type it trains each strategy on the same data, seed and schedule (into
// out-<strategy>) and compares them: what trains, and how far the loss falls. They start from the same loss
// and part ways once the learning rate is above 0 (the first step of the warmup has lr 0).
// (`llava train` is the same function with every run_zero2.sh flag, and --ranks N for ZeRO-2.)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { initBackend } from "@llava-ts/core";
import { generateSyntheticCaptions } from "@llava-ts/datasets";
import { STRATEGIES, trainLlava } from "@llava-ts/trainer";

/** The tutorial's LoRA: every linear layer of the language model, the projector trained in full. */
export const LORA = {
  r: 8,
  lora_alpha: 16,
  lora_dropout: 0.05,
  target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
  modules_to_save: ["multi_modal_projector"],
};

export async function train({
  model: modelDir,
  data,
  images,
  strategy,
  outputDir,
  steps,
  lr = 1e-4,
  batchSize = 2,
  ranks = 1,
}) {
  // The same path as `llava train`: the strategy, LoRA, data and the final model or adapter (as the
  // tutorial's trainer.save_model()) in outputDir, on one rank here or on N with ZeRO-2.
  const { losses, saved, summary } = await trainLlava({
    ranks,
    modelDir,
    strategy,
    lora: strategy === "use_lora" ? LORA : undefined,
    data: { dataset: { file: data, images, batchSize } },
    trainer: {
      optimizer: { lr },
      schedule: { type: "cosine", warmupRatio: 0.03 },
      maxSteps: steps,
      outputDir,
      seed: 42,
    },
    log: console.log,
  });
  console.log(`${strategy}: loss ${losses[0].toFixed(3)} → ${losses.at(-1).toFixed(3)}; saved ${saved}`);
  return { losses, summary };
}

/** The mean loss of the last 5 steps: less batch-to-batch noise than the last step alone. */
export function finalLoss(losses) {
  const tail = losses.slice(-5);
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}

/** What each strategy trains (per part of the model) and what it did to the loss, one row per strategy. */
export function comparison(results) {
  const fmt = (n) => n.toLocaleString("en-US");
  const parts = ["vision_tower", "multi_modal_projector", "language_model"];
  const rows = [
    ["strategy", "vision tower", "projector", "language model", "loss: step 1 → last 5 steps (fall)"],
  ];
  for (const [strategy, { losses, summary }] of Object.entries(results)) {
    const first = losses[0];
    const last = finalLoss(losses);
    rows.push([
      strategy,
      ...parts.map((p) => `${fmt(summary.parts[p]?.trainable ?? 0)} / ${fmt(summary.parts[p]?.total ?? 0)}`),
      `${first.toFixed(3)} → ${last.toFixed(3)} (${(first - last).toFixed(3)})`,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export async function main(argv = []) {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" },
      data: { type: "string" },
      images: { type: "string" },
      "train-type": { type: "string" },
      "output-dir": { type: "string" },
      "max-steps": { type: "string", default: "30" },
      "learning-rate": { type: "string", default: "1e-3" },
    },
  });
  const model = values.model;
  if (!model) {
    console.error(
      "usage: node train.mjs --model DIR [--data chat.json --images images.zip] [--train-type T]",
    );
    console.error(
      "  (a LLaVA folder: node ../01-build-model/build-model.mjs --out my-llava makes a tiny one)",
    );
    process.exitCode = 2;
    return;
  }
  await initBackend();
  const root = mkdtempSync(join(tmpdir(), "llava-train-"));
  let { data, images } = values;
  if (!data)
    ({ chatJson: data, imagesZip: images } = await generateSyntheticCaptions({
      out: join(root, "data"),
      count: 8,
      size: 28,
    }));
  const strategies = values["train-type"] ? [values["train-type"]] : STRATEGIES;
  const results = {};
  for (const strategy of strategies)
    results[strategy] = await train({
      model,
      data,
      images,
      strategy,
      outputDir:
        values["output-dir"] && strategies.length === 1
          ? values["output-dir"]
          : join(values["output-dir"] ?? root, `out-${strategy}`),
      steps: Number(values["max-steps"]),
      lr: Number(values["learning-rate"]),
    });
  if (strategies.length > 1) {
    // Same model, data order, seed and schedule: the differences below are the strategies'.
    console.log(`\ntrainable parameters per part, and the loss over ${values["max-steps"]} steps:`);
    console.log(comparison(results));
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main(process.argv.slice(2));
