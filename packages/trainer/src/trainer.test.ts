import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { useBackendAndTempDirs } from "../test/temp-dirs.js";
import { concatBatches, snapshot, TinyModel, tinyBatches, tinyTrainer } from "../test/tiny-model.js";
import { listCheckpoints } from "./checkpoint/checkpoint-dir.js";
import { fullModelSaver } from "./checkpoint/model-saver.js";

const tmp = useBackendAndTempDirs("llava-trainer-");
const trainer = tinyTrainer;

describe("Trainer on a small module", () => {
  it("gradient accumulation over micro-batches equals one step on the concatenated batch", async () => {
    const micro = tinyBatches(4, 3);
    const big = [concatBatches(micro.slice(0, 2)), concatBatches(micro.slice(2, 4))];
    const a = new TinyModel();
    const b = new TinyModel();
    const ra = await trainer(a, { gradientAccumulationSteps: 2, maxGradNorm: 0.5 }).train(micro);
    const rb = await trainer(b, { maxGradNorm: 0.5 }).train(big);
    expect(ra.globalStep).toBe(2);
    expect(rb.globalStep).toBe(2);
    for (let i = 0; i < 2; i++) expect(ra.losses[i]).toBeCloseTo(rb.losses[i], 6);
    const sa = snapshot(a);
    for (const [name, vb] of snapshot(b)) {
      const va = sa.get(name)!;
      for (let k = 0; k < vb.length; k++) expect(Math.abs(va[k] - vb[k])).toBeLessThan(1e-6);
    }
    // The clip really fired (a gradient norm above 0.5 was logged), so clipping is part of the equivalence.
    expect(ra.logHistory.some((e) => e.grad_norm > 0.5)).toBe(true);
    a.dispose();
    b.dispose();
  });

  it("decays weights but not biases or norm weights (HF's grouping)", () => {
    const m = new TinyModel();
    const t = trainer(m);
    const decay = Object.fromEntries(t.params.map((p) => [p.name, p.decay]));
    expect(decay).toEqual({
      "lin1.weight": true,
      "lin1.bias": false,
      "norm.weight": false,
      "norm.bias": false,
      "lin2.weight": true,
      "lin2.bias": false,
    });
    m.dispose();
  });

  it("stopping after step 3 and resuming gives steps 4–6 of the uninterrupted run exactly", async () => {
    const data = { length: 3, epoch: (e: number, start = 0) => tinyBatches(3, 2, 100 + e).slice(start) };
    const opts = { maxSteps: 6, schedule: { type: "cosine" as const, warmupSteps: 2 }, saveSteps: 3 };
    const full = new TinyModel();
    const ref = await trainer(full, { ...opts, outputDir: tmp() }).train(data);

    const out = tmp();
    const first = new TinyModel();
    const r1 = await trainer(first, { ...opts, outputDir: out, maxSteps: 3 }).train(data);
    expect(r1.losses).toEqual(ref.losses.slice(0, 3));
    // A fresh model (different init) and a fresh trainer: everything must come from the checkpoint.
    const resumed = new TinyModel(99);
    const t2 = trainer(resumed, { ...opts, outputDir: out });
    const r2 = await t2.train(data, { resumeFrom: "latest" });
    expect(r2.losses.length).toBe(3);
    for (let i = 0; i < 3; i++) expect(Math.abs(r2.losses[i] - ref.losses[3 + i])).toBeLessThan(1e-6);
    expect(r2.losses).toEqual(ref.losses.slice(3)); // in fact bit-identical
    expect(snapshot(resumed)).toEqual(snapshot(full));
    expect(r2.logHistory.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r2.logHistory.map((e) => e.learning_rate)).toEqual(ref.logHistory.map((e) => e.learning_rate));
    for (const m of [full, first, resumed]) m.dispose();
  });

  it("stops at a NaN loss with an error naming the step, keeping the last good checkpoint", async () => {
    const out = tmp();
    const data = tinyBatches(5, 2);
    data[3] = { ...data[3], poison: true };
    const m = new TinyModel();
    const t = trainer(m, { outputDir: out, saveSteps: 1 });
    const before = tf.memory().numTensors;
    await expect(t.train(data)).rejects.toThrow(/step 4: loss is NaN/);
    expect(tf.memory().numTensors).toBe(before);
    expect(listCheckpoints(out).map((c) => c.step)).toEqual([1, 2, 3]);
    expect(t.globalStep).toBe(3);
    // The weights were not touched by the bad step: they equal checkpoint-3's.
    const check = new TinyModel(5);
    fullModelSaver(check).load(join(out, "checkpoint-3"));
    expect(snapshot(check)).toEqual(snapshot(m));
    m.dispose();
    check.dispose();
  });

  it("a failure while writing a checkpoint leaves the previous one intact and loadable", async () => {
    const out = tmp();
    const m = new TinyModel();
    const base = fullModelSaver(m);
    let saves = 0;
    const flaky = {
      async save(dir: string) {
        await base.save(dir);
        if (++saves === 2) throw new Error("disk full (simulated)");
      },
      load: base.load,
    };
    const t = trainer(m, { outputDir: out, saveSteps: 1, saver: flaky });
    await expect(t.train(tinyBatches(3, 2))).rejects.toThrow(/disk full/);
    expect(readdirSync(out).filter((n) => n.includes("checkpoint"))).toEqual(["checkpoint-1"]);
    // A crash (not an exception) would leave a temporary folder: it is never listed, and the next save removes it.
    mkdirSync(join(out, "tmp-checkpoint-7"));
    expect(listCheckpoints(out).map((c) => c.step)).toEqual([1]);
    const resumed = new TinyModel(3);
    const t2 = trainer(resumed, { outputDir: out, saveSteps: 1 });
    await t2.resume(join(out, "checkpoint-1"));
    expect(t2.globalStep).toBe(1);
    expect(t2.position).toEqual({ epoch: 0, batchInEpoch: 1 });
    await t2.saveCheckpoint(); // re-saves step 1 (moving the old folder aside first)
    expect(readdirSync(out).filter((n) => n.includes("checkpoint"))).toEqual(["checkpoint-1"]);
    m.dispose();
    resumed.dispose();
  });

  it("keeps the newest save_total_limit checkpoints and writes metrics, progress lines and trainer_state", async () => {
    const out = tmp();
    const lines: string[] = [];
    const m = new TinyModel();
    const t = trainer(m, {
      outputDir: out,
      saveSteps: 2,
      saveTotalLimit: 2,
      epochs: 2,
      progress: { write: (s: string) => lines.push(s), isTTY: false },
    });
    const data = tinyBatches(3, 2);
    const r = await t.train(data);
    expect(r.globalStep).toBe(6);
    expect(listCheckpoints(out).map((c) => c.step)).toEqual([4, 6]);
    expect(lines.length).toBe(6);
    expect(lines[5]).toMatch(/^step 6\/6 loss \d+\.\d{4} lr 5\.00e-2 ETA 0:00\n$/);
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(metrics.map((x) => x.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const key of ["loss", "lr", "grad_norm", "tokens_per_second", "images_per_second", "data_wait_ms"])
      expect(typeof metrics[0][key]).toBe("number");
    expect(metrics[5].loss).toBe(r.losses[5]);
    const state = JSON.parse(readFileSync(join(out, "checkpoint-6", "trainer_state.json"), "utf8"));
    expect(state.global_step).toBe(6);
    expect(state.log_history[2]).toEqual({
      epoch: 1,
      grad_norm: metrics[2].grad_norm,
      learning_rate: 0.05,
      loss: Math.round(r.losses[2] * 1e4) / 1e4,
      step: 3,
    });
    expect(Object.keys(state)).toEqual([...Object.keys(state)].sort());
    // Only TrainerState's fields (transformers 4.46, trainer_callback.py), so TrainerState.load_from_json
    // reads it; the exact data position is llava-ts' own file.
    const fields = new Set([
      "best_metric",
      "best_model_checkpoint",
      "epoch",
      "eval_steps",
      "global_step",
      "is_hyper_param_search",
      "is_local_process_zero",
      "is_world_process_zero",
      "log_history",
      "logging_steps",
      "max_steps",
      "num_input_tokens_seen",
      "num_train_epochs",
      "save_steps",
      "stateful_callbacks",
      "total_flos",
      "train_batch_size",
      "trial_name",
      "trial_params",
    ]);
    expect(Object.keys(state).filter((k) => !fields.has(k))).toEqual([]);
    expect(JSON.parse(readFileSync(join(out, "checkpoint-6", "llava_ts_state.json"), "utf8"))).toEqual({
      data: { batch_in_epoch: 0, epoch: 2 },
    });
    expect(existsSync(join(out, "checkpoint-6", "optimizer.safetensors"))).toBe(true);
    m.dispose();
  });

  it("leaves no tensors behind across steps", async () => {
    const m = new TinyModel();
    const t = trainer(m, { maxSteps: 2 });
    await t.train(tinyBatches(2, 2));
    const before = tf.memory().numTensors;
    await trainer(m, { maxSteps: 3 }).train(tinyBatches(3, 2));
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});
