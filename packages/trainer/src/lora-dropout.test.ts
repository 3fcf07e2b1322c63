// LoRA dropout in the training loop (PEFT's model.train() / model.eval()): on for the training steps'
// forward and backward, off for evaluation and after training; seeded, so a run is reproducible; and the
// same masks when gradient checkpointing recomputes a layer.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { type Cases, fixturePath, loadCases } from "@llava-ts/core/testing";
import type { LlavaBatch } from "@llava-ts/datasets";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import { applyLora, loraLayers, setLoraTraining } from "@llava-ts/lora";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureBatch } from "../test/fixture-batch.js";
import { evalBatchLoss } from "./llava-task.js";
import { Trainer } from "./trainer.js";

let cases: Cases;
let batch: LlavaBatch;
beforeAll(async () => {
  await initBackend();
  cases = loadCases("hf/llava");
  batch = fixtureBatch(cases);
});
const dirs: string[] = [];
afterAll(() => {
  cases?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  losses: number[];
  /** Each evaluation's eval_loss, computed twice in a row. */
  evals: [number, number][];
  /** Whether any LoRA layer had dropout on while an evaluation ran. */
  trainingDuringEval: boolean;
  model: LlavaForConditionalGeneration;
}

interface RunOptions {
  seed?: number;
  checkpointing?: boolean;
  steps?: number;
  outputDir?: string;
  resumeFrom?: string;
}

async function train(
  dropout: number,
  { seed = 5, checkpointing = false, steps = 3, outputDir, resumeFrom }: RunOptions = {},
): Promise<Run> {
  const model = LlavaForConditionalGeneration.fromPretrained(fixturePath("hf/llava"));
  model.gradientCheckpointing = checkpointing;
  const evals: [number, number][] = [];
  let trainingDuringEval = false;
  const lora = {
    r: 4,
    lora_alpha: 8,
    lora_dropout: dropout,
    target_modules: ["q_proj", "v_proj", "up_proj"],
  };
  const trainer = new Trainer(model, {
    optimizer: { lr: 1e-2 },
    schedule: { type: "constant" },
    maxSteps: steps,
    outputDir,
    saveSteps: outputDir ? 1 : undefined,
    progress: false,
    seed,
    strategy: "use_lora",
    strategyOptions: { lora: (m) => applyLora(m, lora, { seed }) },
    evaluation: {
      strategy: "steps",
      steps: 1,
      run: async () => {
        trainingDuringEval ||= loraLayers(model).some(([, layer]) => layer.training);
        evals.push([evalBatchLoss(model, batch), evalBatchLoss(model, batch)]);
        return { eval_loss: evals.at(-1)![0] };
      },
    },
  });
  const { losses } = await trainer.train({ length: 1, epoch: () => [batch] }, { resumeFrom });
  return { losses, evals, trainingDuringEval, model };
}

describe("LoRA dropout in training", () => {
  it("changes the training loss, reproducibly under the same seed; evaluation runs without it", async () => {
    const plain = await train(0);
    const dropped = await train(0.3);
    const again = await train(0.3);
    console.log(`losses: dropout 0 ${plain.losses.join(", ")}; dropout 0.3 ${dropped.losses.join(", ")}`);
    // Step 1: lora_B starts at zero (PEFT's init), so the adapters add nothing yet, dropped or not…
    expect(Math.abs(dropped.losses[0] - plain.losses[0])).toBeLessThan(1e-6);
    // …but lora_B's gradient goes through the dropped inputs, and every later step differs.
    for (const i of [1, 2]) expect(Math.abs(dropped.losses[i] - plain.losses[i])).toBeGreaterThan(1e-4);
    expect(again.losses).toEqual(dropped.losses);
    expect(again.evals).toEqual(dropped.evals);
    // Evaluation: dropout off (a second evaluation of the same weights gives the same loss), and after
    // training too; switched on, the same weights give another loss.
    expect(dropped.trainingDuringEval).toBe(false);
    expect(loraLayers(dropped.model).some(([, layer]) => layer.training)).toBe(false);
    for (const [a, b] of dropped.evals) expect(b).toBe(a);
    const after = evalBatchLoss(dropped.model, batch);
    expect(after).toBe(dropped.evals.at(-1)![0]);
    setLoraTraining(dropped.model, true);
    expect(Math.abs(evalBatchLoss(dropped.model, batch) - after)).toBeGreaterThan(1e-4);
    for (const r of [plain, dropped, again]) r.model.dispose();
  });

  it("gradient checkpointing recomputes a layer with the masks its forward drew: the same losses", async () => {
    const plain = await train(0.3);
    const checkpointed = await train(0.3, { checkpointing: true });
    for (let i = 0; i < 3; i++) expect(Math.abs(checkpointed.losses[i] - plain.losses[i])).toBeLessThan(1e-5);
    for (let i = 0; i < 3; i++)
      expect(Math.abs(checkpointed.evals[i][0] - plain.evals[i][0])).toBeLessThan(1e-5);
    for (const r of [plain, checkpointed]) r.model.dispose();
  });

  it("a resumed run draws the masks the uninterrupted one draws (the dropout streams are checkpointed)", async () => {
    const full = await train(0.3, { steps: 5 });
    const out = mkdtempSync(join(tmpdir(), "llava-lora-dropout-"));
    dirs.push(out);
    const first = await train(0.3, { steps: 2, outputDir: out });
    // A fresh model: the checkpoint brings back the weights, the optimizer and every random stream.
    const resumed = await train(0.3, { steps: 5, outputDir: out, resumeFrom: join(out, "checkpoint-2") });
    expect(resumed.losses).toHaveLength(3);
    resumed.losses.forEach((l, i) => {
      expect(Math.abs(l - full.losses[2 + i])).toBeLessThan(1e-6);
    });
    for (const r of [full, first, resumed]) r.model.dispose();
  });
});
