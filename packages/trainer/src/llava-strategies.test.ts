// The four strategies against the reference: 6 AdamW steps on fixtures/hf/llava's batch
// (fixtures/hf/training.json), plus exact resume of a LoRA run and proof that a frozen vision tower runs
// outside the gradient tape.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { type Cases, fixturePath, loadCases } from "@llava-ts/core/testing";
import type { LlavaBatch } from "@llava-ts/datasets";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import { loadAdapter } from "@llava-ts/lora";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureBatch } from "../test/fixture-batch.js";
import { snapshot } from "../test/tiny-model.js";
import { accumulateGradients } from "./accumulate-gradients.js";
import { applyStrategy, type Strategy } from "./apply-strategy.js";
import { GradientBuffer } from "./gradient-buffer.js";
import { llavaTask } from "./llava-task.js";
import { Trainer } from "./trainer.js";
import type { TrainerOptions } from "./trainer-options.js";

const reference = JSON.parse(readFileSync(fixturePath("hf/training.json"), "utf8")).losses as Record<
  Strategy,
  number[]
>;
let cases: Cases;
let batch: LlavaBatch;
const dirs: string[] = [];
/** Each strategy's six losses from the parity tests, the reference for the resume tests. */
const uninterrupted = new Map<Strategy, number[]>();

beforeAll(async () => {
  await initBackend();
  cases = loadCases("hf/llava");
  batch = fixtureBatch(cases);
});
afterAll(() => {
  cases?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The reference run's setup: AdamW(1e-3, (0.9, 0.999), 1e-8, wd 0), constant lr, no clipping. */
const SETUP: TrainerOptions<LlavaBatch> = {
  optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
  schedule: { type: "constant" },
  maxGradNorm: 0,
  maxSteps: 6,
  progress: false,
};
/** The same batch every step, as an epoch source of one batch. */
const sameBatch = () => ({ length: 1, epoch: () => [batch] });

function load(strategy: Strategy): LlavaForConditionalGeneration {
  const model = LlavaForConditionalGeneration.fromPretrained(fixturePath("hf/llava"));
  if (strategy === "use_lora") loadAdapter(model, fixturePath("hf/llava-lora-init"), { trainable: true });
  return model;
}

/** Records, for every vision-tower forward, whether a gradient tape was recording. */
function probeTower(model: LlavaForConditionalGeneration): boolean[] {
  const underTape: boolean[] = [];
  const tower = model.vision_tower;
  const original = tower.hiddenState.bind(tower);
  tower.hiddenState = (pixels, layer) => {
    underTape.push((tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0);
    return original(pixels, layer);
  };
  return underTape;
}

describe("strategies vs fixtures/hf/training.json (6 AdamW steps, same batch)", () => {
  for (const strategy of ["projector_only", "freeze_vision", "none", "use_lora"] as const) {
    it(`${strategy}: every step's loss within 1e-4; untrained parameters bit-identical`, async () => {
      const model = load(strategy);
      const underTape = probeTower(model);
      const trainer = new Trainer(model, { ...SETUP, strategy });
      const trained = new Set(trainer.params.map((p) => p.name));
      const before = snapshot(model);
      const { losses } = await trainer.train(sameBatch());
      uninterrupted.set(strategy, losses);
      const errors = losses.map((l, i) => Math.abs(l - reference[strategy][i]));
      console.log(
        `${strategy}: max |Δloss| ${Math.max(...errors).toExponential(2)} (${losses.map((l) => l.toFixed(6)).join(", ")})`,
      );
      expect(losses.length).toBe(6);
      for (const e of errors) expect(e).toBeLessThan(1e-4);

      const after = snapshot(model);
      let changed = 0;
      for (const [name, v] of before) {
        if (trained.has(name)) changed += v.some((x, i) => x !== after.get(name)![i]) ? 1 : 0;
        else expect(after.get(name), name).toEqual(v);
      }
      expect(changed).toBeGreaterThan(0);
      // The tower ran once per step; under the tape only when it trains.
      expect(underTape.length).toBe(6);
      expect(underTape.every((t) => t === (strategy === "none"))).toBe(true);
      model.dispose();
    });
  }
});

describe("exact resume: stop after step 3, resume from the checkpoint", () => {
  // use_lora checkpoints a PEFT adapter; freeze_vision the whole model in HF layout.
  for (const [strategy, weightsFile] of [
    ["use_lora", "adapter_model.safetensors"],
    ["freeze_vision", "model.safetensors"],
  ] as const) {
    it(`${strategy}: steps 4–6 within 1e-6 of the uninterrupted run (${weightsFile})`, async () => {
      const full =
        uninterrupted.get(strategy) ??
        (await new Trainer(load(strategy), { ...SETUP, strategy }).train(sameBatch())).losses;
      const out = mkdtempSync(join(tmpdir(), "llava-trainer-resume-"));
      dirs.push(out);
      const opts = { ...SETUP, strategy, outputDir: out };
      const first = load(strategy);
      await new Trainer(first, { ...opts, maxSteps: 3 }).train(sameBatch());
      first.dispose();
      const ckpt = join(out, "checkpoint-3");
      expect(existsSync(join(ckpt, weightsFile))).toBe(true);

      // A fresh model with the *initial* weights: the checkpoint must bring the trained ones back.
      const second = load(strategy);
      const resumed = await new Trainer(second, opts).train(sameBatch(), { resumeFrom: ckpt });
      const errors = resumed.losses.map((l, i) => Math.abs(l - full[3 + i]));
      console.log(`${strategy} resume: max |Δloss| steps 4–6 ${Math.max(...errors).toExponential(2)}`);
      expect(resumed.losses.length).toBe(3);
      for (const e of errors) expect(e).toBeLessThan(1e-6);
      second.dispose();
    });
  }
});

describe("a trained embedding's gradient arrives row by row", () => {
  it("freeze_vision: the buffer equals the dense lookup gradient (tied lm_head + gather) within 1e-6", () => {
    const model = load("freeze_vision");
    applyStrategy(model, "freeze_vision");
    const params = model.trainableParameters().map(([name, variable]) => ({ name, variable, decay: true }));
    const table = model.language_model.model.embed_tokens.variable("weight");
    const index = params.findIndex((p) => p.variable === table);
    expect(index).toBeGreaterThanOrEqual(0);
    const info = { accum: 1, step: 1, micro: 0 };
    // llavaTask looks the ids up outside the tape and hands the lookup back as a RowGradient.
    const rowWise = new GradientBuffer(params.map((p) => p.variable.size));
    const prepared = llavaTask(model).prepare(batch);
    expect(prepared.rowGradients?.[0].variable).toBe(table);
    const lossRows = accumulateGradients(prepared, params, rowWise, info);
    // The same loss with the lookup inside the tape (a frozen-looking table at prepare time): tfjs' dense
    // gather gradient, added to the tied lm_head's.
    table.trainable = false;
    const inTape = llavaTask(model).prepare(batch);
    table.trainable = true;
    expect(inTape.rowGradients).toBeUndefined();
    const dense = new GradientBuffer(params.map((p) => p.variable.size));
    const lossDense = accumulateGradients(inTape, params, dense, info);
    expect(lossRows).toBe(lossDense);
    const maxDiff = (a: GradientBuffer, b: GradientBuffer) =>
      a.flat.reduce((m, x, i) => Math.max(m, Math.abs(x - b.flat[i])), 0);
    console.log(`row-wise vs dense embedding gradient: max |Δ| ${maxDiff(dense, rowWise).toExponential(2)}`);
    expect(maxDiff(dense, rowWise)).toBeLessThanOrEqual(1e-6);
    // Not vacuous: dropping the row gradients loses the lookup's share of the table's gradient.
    const lost = new GradientBuffer(params.map((p) => p.variable.size));
    accumulateGradients({ ...llavaTask(model).prepare(batch), rowGradients: undefined }, params, lost, info);
    expect(maxDiff(dense, lost)).toBeGreaterThan(1e-4);
    model.dispose();
  });
});

describe("applyStrategy on the LLaVA fixture", () => {
  it("reports trainable counts per part", () => {
    const model = load("use_lora");
    const s = applyStrategy(model, "use_lora");
    expect(s.parts.vision_tower.trainable).toBe(0);
    expect(s.parts.multi_modal_projector.trainable).toBe(s.parts.multi_modal_projector.total / 2); // the copy trains
    expect(s.parts.language_model.trainable).toBeGreaterThan(0);
    const f = applyStrategy(model, "projector_only");
    expect(f.trainable).toBe(f.parts.multi_modal_projector.trainable);
    model.dispose();
  });
});
