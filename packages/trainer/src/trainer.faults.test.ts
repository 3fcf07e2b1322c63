// Fault suite (issue 19, classes 2, 3, 7 and 8) for the training loop on a small module: a micro-batch
// with nothing to learn from is passed over and counted; an update that leaves weights NaN/±Inf, or a
// gradient of exactly 0 with tokens to learn from, stops training with nothing more saved; a resume with
// another batch size or seed is refused; metrics.jsonl holds each step once after a resume, and a full
// disk under it is one error naming the file.
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { useBackendAndTempDirs } from "../test/temp-dirs.js";
import {
  snapshot,
  type TinyBatch,
  TinyModel,
  tinyBatches,
  tinyTask,
  tinyTrainer,
} from "../test/tiny-model.js";
import type { EpochSource } from "./batch-stream.js";
import { listCheckpoints } from "./checkpoint/checkpoint-dir.js";
import { fullModelSaver } from "./checkpoint/model-saver.js";
import type { TrainTask } from "./train-task.js";
import type { Trainer } from "./trainer.js";
import type { TrainerOptions } from "./trainer-options.js";
import { TrainingError } from "./training-error.js";

const tmp = useBackendAndTempDirs("llava-trainer-faults-");

function trainer(model: TinyModel, options: TrainerOptions<TinyBatch> = {}): Trainer<TinyBatch> {
  return tinyTrainer(model, { schedule: { type: "constant" }, saver: fullModelSaver(model), ...options });
}

const EMPTY: TinyBatch = { x: new Float32Array(0), y: new Float32Array(0) };

async function failure(p: Promise<unknown>): Promise<TrainingError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TrainingError);
  return e as TrainingError;
}

/** An epoch source that says what its positions count in, as the LLaVA data loader does. */
function source(batches: TinyBatch[], batchSize: number, seed: number): EpochSource<TinyBatch> {
  return { length: batches.length, batchSize, seed, epoch: (_e, start = 0) => batches.slice(start) };
}

describe("a micro-batch with no token to learn from", () => {
  it("is passed over and counted; a step made only of such batches changes no weight", async () => {
    const [a, b] = tinyBatches(2, 3);
    const skipped = new TinyModel();
    const t = trainer(skipped);
    const r = await t.train([a, EMPTY, b]);
    expect(r.globalStep).toBe(3);
    expect(t.emptyMicroBatches).toBe(1);
    expect(r.steps[1].counts.lossTokens).toBe(0);
    expect(r.steps[1].gradNorm).toBe(0);
    // The weights after step 2 are those after step 1: compare with a run stopped after one step.
    const one = new TinyModel();
    await trainer(one).train([a]);
    const half = new TinyModel();
    await trainer(half).train([a, EMPTY]);
    const s1 = snapshot(one);
    for (const [name, v] of snapshot(half)) expect(Array.from(v), name).toEqual(Array.from(s1.get(name)!));
  });

  it("a run where no step had any is an error naming it, and saves nothing", async () => {
    const out = tmp();
    const err = await failure(trainer(new TinyModel(), { outputDir: out }).train([EMPTY, EMPTY]));
    expect(err.message).toMatch(
      /^no micro-batch of the 2 step\(s\) had a token to train on; the model is not saved$/,
    );
    expect(listCheckpoints(out)).toEqual([]);
  });
});

describe("training stops when an update ruins the weights", () => {
  it("values that became NaN or ±Inf stop it at that step, before any further save", async () => {
    const out = tmp();
    const t = trainer(new TinyModel(), { outputDir: out, optimizer: { lr: 1e39 } });
    const err = await failure(t.train(tinyBatches(3, 3)));
    expect(err.step).toBe(1);
    expect(err.message).toMatch(
      /^step 1: \d+ trainable value\(s\) became NaN or ±Inf in the update \(learning rate 1e\+39, gradient norm [\d.e+-]+\); training stopped/,
    );
    expect(listCheckpoints(out)).toEqual([]);
    expect(existsSync(join(out, "model.safetensors"))).toBe(false);
  });

  it("a gradient of exactly 0 with loss tokens stops it: the loss no longer reaches any weight", async () => {
    const model = new TinyModel();
    const inner = tinyTask(model);
    // A saturated loss: it depends on the output only through a factor of 0.
    const flat: TrainTask<TinyBatch> = {
      count: inner.count,
      prepare(b) {
        const x = tf.tensor2d(b.x, [b.x.length / 4, 4]);
        return {
          loss: () => tf.sum(model.forward(x)).mul(0).add(2.5) as tf.Scalar,
          dispose: () => x.dispose(),
        };
      },
    };
    const out = tmp();
    const err = await failure(trainer(model, { task: flat, outputDir: out }).train(tinyBatches(2, 3)));
    expect(err.message).toMatch(
      /^step 1: the gradient norm is 0 with 6 loss token\(s\) \(loss 2\.5, learning rate 0\.05\): the loss no longer changes any trainable weight/,
    );
    expect(listCheckpoints(out)).toEqual([]);
  });
});

describe("resuming", () => {
  it("with another batch size or seed is refused before anything loads; the same settings resume", async () => {
    const out = tmp();
    const data = tinyBatches(4, 3);
    await trainer(new TinyModel(), { outputDir: out, saveSteps: 2 }).train(source(data, 3, 42));
    const ckpt = join(out, "checkpoint-2");
    const state = JSON.parse(readFileSync(join(ckpt, "llava_ts_state.json"), "utf8"));
    expect(state.data).toEqual({ epoch: 0, batch_in_epoch: 2, rows_per_micro_batch: 3, seed: 42 });
    const resume = (batchSize: number, seed: number) =>
      trainer(new TinyModel(), { outputDir: tmp() }).train(source(data, batchSize, seed), {
        resumeFrom: ckpt,
      });
    expect((await failure(resume(2, 42))).message).toBe(
      `${ckpt} was saved reading 3 rows per micro-batch over all ranks (per-device batch size × ranks); this run reads 2, so its saved data position would point at other records. Resume with a per-device batch size × ranks of 3, or start a new run`,
    );
    expect((await failure(resume(3, 7))).message).toMatch(
      /was saved with seed 42; this run has seed 7, which shuffles the data in another order.*Resume with seed 42/,
    );
    const ok = await resume(3, 42);
    expect(ok.globalStep).toBe(4);
  });

  it("metrics.jsonl keeps each step once: the lines past the resumed step go", async () => {
    const out = tmp();
    const data = tinyBatches(4, 3);
    await trainer(new TinyModel(), { outputDir: out, saveSteps: 2 }).train(data);
    await trainer(new TinyModel(), { outputDir: out }).train(data, { resumeFrom: join(out, "checkpoint-2") });
    const steps = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).step);
    expect(steps).toEqual([1, 2, 3, 4]);
    // A new run in the same folder starts the file over.
    await trainer(new TinyModel(), { outputDir: out, maxSteps: 1 }).train(data);
    expect(readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(1);
  });

  it('"latest" without an output folder says so', async () => {
    const err = await failure(trainer(new TinyModel()).train(tinyBatches(1, 3), { resumeFrom: "latest" }));
    expect(err.message).toBe('resumeFrom "latest" looks in the output folder, and none is set (outputDir)');
  });
});

describe("a full disk", () => {
  it("metrics.jsonl that cannot be written (ENOSPC) is a TrainingError naming the file and the step", async () => {
    const out = tmp();
    symlinkSync("/dev/full", join(out, "metrics.jsonl")); // every write: ENOSPC; never read as a file
    const err = await failure(trainer(new TinyModel(), { outputDir: out }).train(tinyBatches(2, 3)));
    expect(err.message).toBe(
      `step 1: cannot write ${join(out, "metrics.jsonl")}: ENOSPC: no space left on device, write; no checkpoint had been saved`,
    );
    expect(listCheckpoints(out)).toEqual([]);
  });

  it("a checkpoint that cannot be written names the step and the last checkpoint, left complete", async () => {
    const out = tmp();
    const model = new TinyModel();
    const saver = fullModelSaver(model);
    let saves = 0;
    // The second checkpoint's disk fills up after its weights (/dev/full: every write is ENOSPC).
    const full = {
      async save(dir: string) {
        await saver.save(dir);
        if (++saves < 2) return;
        symlinkSync("/dev/full", join(dir, "extra.json"));
        writeFileSync(join(dir, "extra.json"), "{}");
      },
      load: saver.load,
    };
    const t = trainer(model, { outputDir: out, saver: full, saveStrategy: "steps", saveSteps: 1 });
    const err = await failure(t.train(tinyBatches(3, 3)));
    expect(err.message).toMatch(
      new RegExp(
        `^step 2: cannot write checkpoint-2 in ${out}: ENOSPC: no space left on device, write; the last checkpoint, ${join(out, "checkpoint-1")}, is complete$`,
      ),
    );
    expect(listCheckpoints(out).map((c) => c.step)).toEqual([1]);
    expect(readdirSync(out).filter((d) => d.includes("checkpoint-2"))).toEqual([]); // the partial one is gone
  });
});
