// Evaluation inside the training loop: when it runs, what it logs, the best checkpoint kept and loaded
// at the end, and early stopping — driven by a scripted eval metric so every decision is known.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useBackendAndTempDirs } from "../test/temp-dirs.js";
import { snapshot, type TinyBatch, TinyModel, tinyBatches, tinyTrainer } from "../test/tiny-model.js";
import { listCheckpoints } from "./checkpoint/checkpoint-dir.js";
import type { EvaluationOptions, TrainerOptions } from "./trainer-options.js";
import { TrainingLog } from "./training-log.js";

const tmp = useBackendAndTempDirs("llava-eval-");

/** An evaluation that returns the given eval_loss values in turn, and remembers the steps it ran at. */
function scripted(values: number[], options: Omit<EvaluationOptions, "run">, model: TinyModel) {
  const at: number[] = [];
  const weights: Map<string, Float32Array>[] = [];
  const evaluation: EvaluationOptions = {
    ...options,
    run: async () => {
      weights.push(snapshot(model));
      at.push(at.length);
      return { eval_loss: values[at.length - 1], eval_samples: 4 };
    },
  };
  return { evaluation, at, weights };
}

function train(model: TinyModel, options: TrainerOptions<TinyBatch>) {
  const lines: string[] = [];
  const t = tinyTrainer(model, {
    optimizer: { lr: 0.05 },
    progress: { write: (s: string) => lines.push(s), isTTY: false },
    ...options,
  });
  return { t, lines };
}

describe("evaluation during training", () => {
  it("evaluates every eval_steps, logs eval_loss, keeps and loads the best checkpoint, stops early", async () => {
    const out = tmp();
    const model = new TinyModel();
    // Evaluations at steps 2, 4, 6, 8: best at 4; 6 and 8 do not improve → patience 2 stops at step 8.
    const s = scripted(
      [3, 2, 2.5, 2.6, 9],
      { strategy: "steps", steps: 2, loadBestModelAtEnd: true, earlyStoppingPatience: 2 },
      model,
    );
    const { t, lines } = train(model, {
      outputDir: out,
      maxSteps: 20,
      saveStrategy: "steps",
      saveSteps: 3,
      saveTotalLimit: 1,
      evaluation: s.evaluation,
    });
    const r = await t.train(tinyBatches(20, 2));
    expect(r.globalStep).toBe(8);
    expect(s.at).toHaveLength(4);
    expect(t.best).toEqual({ metric: 2, step: 4, checkpoint: join(out, "checkpoint-4") });
    // The best checkpoint survives save_total_limit 1 beside the newest one.
    expect(listCheckpoints(out).map((c) => c.step)).toEqual([4, 8]);
    // The model now holds the weights evaluated at step 4.
    const best = s.weights[1];
    for (const [name, v] of snapshot(model)) expect(v, name).toEqual(best.get(name));
    const history = r.logHistory.filter((e) => e.eval_loss !== undefined);
    expect(history.map((e) => [e.step, e.eval_loss])).toEqual([
      [2, 3],
      [4, 2],
      [6, 2.5],
      [8, 2.6],
    ]);
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(metrics.filter((m) => m.eval_loss !== undefined).map((m) => m.step)).toEqual([2, 4, 6, 8]);
    const state = JSON.parse(readFileSync(join(out, "checkpoint-8", "trainer_state.json"), "utf8"));
    expect(state.best_metric).toBe(2);
    expect(state.best_model_checkpoint).toBe(join(out, "checkpoint-4"));
    expect(state.eval_steps).toBe(2);
    const text = lines.join("");
    expect(text).toContain("step 4: eval_loss 2.0000, eval_samples 4");
    expect(text).toContain(
      "early stopping at step 8: eval_loss has not improved on 2.0000 (step 4) for 2 evaluations",
    );
    expect(text).toContain(`loaded the best model: ${join(out, "checkpoint-4")}`);
  });

  it("a resumed run keeps the best evaluation and the evaluations since it (patience carries over)", async () => {
    const out = tmp();
    const options = {
      strategy: "steps" as const,
      steps: 2,
      loadBestModelAtEnd: true,
      earlyStoppingPatience: 2,
    };
    const run = (model: TinyModel, values: number[], maxSteps: number) => {
      const s = scripted(values, options, model);
      const { t } = train(model, { outputDir: out, maxSteps, saveSteps: 2, evaluation: s.evaluation });
      return { t, s };
    };
    // Steps 2, 4, 6: the best is step 4's; step 6 is one evaluation without improvement.
    const first = run(new TinyModel(), [3, 2, 2.5], 6);
    await first.t.train(tinyBatches(20, 2));
    expect(first.t.best).toEqual({ metric: 2, step: 4, checkpoint: join(out, "checkpoint-4") });
    // Resumed at checkpoint-6: step 8's 2.6 is the second evaluation without improvement → stop. (Had the
    // best been forgotten, 2.6 would be a new best and the run would go on to step 12.)
    const model = new TinyModel(99);
    const second = run(model, [2.6, 9, 9, 9], 20);
    const r = await second.t.train(tinyBatches(20, 2), { resumeFrom: join(out, "checkpoint-6") });
    expect(r.globalStep).toBe(8);
    expect(second.s.at).toHaveLength(1);
    expect(second.t.best).toEqual({ metric: 2, step: 4, checkpoint: join(out, "checkpoint-4") });
    // The model ends with step 4's weights, which only checkpoint-4 holds.
    const best = first.s.weights[1];
    for (const [name, v] of snapshot(model)) expect(v, name).toEqual(best.get(name));
  });

  it("evaluates at each epoch's end with strategy epoch, and never stops without patience", async () => {
    const model = new TinyModel();
    const s = scripted([5, 6, 7], { strategy: "epoch" }, model);
    const { t } = train(model, { epochs: 3, evaluation: s.evaluation });
    const r = await t.train(tinyBatches(4, 2));
    expect(r.globalStep).toBe(12);
    expect(r.logHistory.filter((e) => e.eval_loss !== undefined).map((e) => e.step)).toEqual([4, 8, 12]);
  });
});

describe("progress without a terminal", () => {
  it("writes a line every logging step, and one whenever 30 s passed in between", () => {
    const lines: string[] = [];
    let now = 0;
    const log = new TrainingLog([], {
      main: true,
      progress: { write: (s: string) => lines.push(s), isTTY: false },
      loggingSteps: 10,
      total: 100,
      now: () => now,
    });
    const step = (n: number) => ({
      step: n,
      loss: 1,
      lr: 1e-3,
      gradNorm: 1,
      epoch: 0,
      endOfEpoch: false,
      counts: { samples: 1, tokens: 1, images: 0, lossTokens: 1 },
      ms: 1,
      dataWaitMs: 0,
      commMs: 0,
    });
    for (let n = 1; n <= 9; n++) {
      now += 5_000; // 45 s over steps 1–9: a line at step 6 (30 s), none before
      log.record(step(n));
    }
    expect(lines.map((l) => l.split(" ")[1])).toEqual(["6/100"]);
    now += 1000;
    log.record(step(10));
    expect(lines).toHaveLength(2); // the logging step
    expect(lines[1]).toMatch(/^step 10\/100 loss 1\.0000/);
  });
});
