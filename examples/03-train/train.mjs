// Chapter 2 of the tutorial: train the built LLaVA with one of the four strategies (--train-type).
//
//   node train.mjs --model my-llava --data chat.json --images images.zip --train-type use_lora --output-dir out
//
// --model is a LLaVA folder, such as the one ../01-build-model writes. Without --data it draws a tiny
// dataset; without --train-type it trains each strategy for a few steps (into out-<strategy>).
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
  const { losses, saved } = await trainLlava({
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
  console.log(`${strategy}: losses ${losses.map((l) => l.toFixed(3)).join(" ")} → ${saved}`);
  return losses;
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
      "max-steps": { type: "string", default: "2" },
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
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main(process.argv.slice(2));
