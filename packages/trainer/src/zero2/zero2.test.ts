import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxDiff } from "../../test/max-diff.js";
import {
  TinyTokenModel,
  tokenBatches,
  tokenLabelCount,
  tokenRows,
  tokenTask,
} from "../../test/tiny-token-model.js";
import { OPT, seededParams, setSeededGradients, type Zero2Script } from "../../test/zero2-test-rank.js";
import { Trainer } from "../trainer.js";
import { LocalCollective } from "./collective/local-collective.js";
import { launchRanks, RankError } from "./launch/launch-ranks.js";
import { PartitionedAdamW } from "./partitioned-adamw.js";
import { consolidateZeroCheckpoint, OPTIMIZER_FILE, zeroRankFile } from "./zero2-checkpoint.js";

const entry = new URL("../../test/zero2-test-rank.ts", import.meta.url);
const run = async <R>(worldSize: number, args: Zero2Script) =>
  (await launchRanks<Zero2Script, R>({ worldSize, entry, args, bucketSize: 16 })).result;

interface AdamwResult {
  params: number[][];
  stateSize: number;
  range: [number, number];
}
interface TrainRankResult {
  losses: number[];
  logged: number[];
  params: Record<string, number[]>;
  stateSize: number;
  checkpoint?: string;
}

let dir: string;
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  dir = mkdtempSync(join(tmpdir(), "zero2-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("PartitionedAdamW", () => {
  const sizes = [7, 13, 1, 30, 5]; // 56 values
  const steps = 6;

  /** One rank (LocalCollective: the direct update path) on the same seeded gradients. */
  async function reference(from = 1, start?: { params: number[][]; optimizer?: string }) {
    const params = seededParams(sizes);
    if (start) for (const [i, p] of params.entries()) p.variable.assign(tf.tensor1d(start.params[i]));
    const opt = new PartitionedAdamW(params, { ...OPT, collective: new LocalCollective() });
    if (start?.optimizer) opt.load(start.optimizer);
    for (let s = from; s <= steps; s++) {
      setSeededGradients(opt, sizes, s);
      await opt.step(OPT.lr * (1 - s / 20));
    }
    return { params: params.map((p) => [...p.variable.dataSync()]), stateSize: opt.stateSize };
  }

  it("2 ranks update exactly as one AdamW, each holding half of the state; resume on 1 rank or consolidated", async () => {
    const ckpt = join(dir, "adamw");
    const res = await run<AdamwResult>(2, { script: "adamw", sizes, steps, saveAt: { step: 3, dir: ckpt } });
    const ref = await reference();
    for (const r of res) expect(r.params).toEqual(ref.params); // bit-identical, on every rank
    expect(res.map((r) => r.range)).toEqual([
      [0, 28],
      [28, 56],
    ]); // the boundary falls inside parameter 3 (values 21…50)
    expect(res.map((r) => r.stateSize)).toEqual([56, 56]);
    expect(res.reduce((s, r) => s + r.stateSize, 0)).toBe(2 * 56);

    expect(existsSync(join(ckpt, "global_step3", zeroRankFile(1)))).toBe(true);
    expect(readFileSync(join(ckpt, "latest"), "utf8")).toBe("global_step3");
    const resumed = await run<AdamwResult>(1, { script: "adamw", sizes, steps, loadFrom: ckpt });
    expect(resumed[0].params).toEqual(ref.params);
    // The consolidated optimizer.safetensors alone (what one rank writes) resumes the same.
    const consolidated = join(dir, "adamw-consolidated");
    mkdirSync(consolidated);
    copyFileSync(await consolidateZeroCheckpoint(ckpt), join(consolidated, OPTIMIZER_FILE));
    const saved = JSON.parse(readFileSync(join(ckpt, "params.json"), "utf8")) as number[][];
    expect((await reference(4, { params: saved, optimizer: consolidated })).params).toEqual(ref.params);
  });
});

describe("Trainer on N ranks (tiny token model, uneven labelled tokens per row)", () => {
  const steps = 10;

  /** One process, plain AdamW, the whole global batch as one micro-batch (or `accumulation` of them). */
  async function single(globalBatch: number, accumulation = 1, maxGradNorm = 0) {
    const model = new TinyTokenModel();
    const trainer = new Trainer(model, {
      task: tokenTask(model),
      optimizer: { ...OPT },
      maxSteps: steps,
      gradientAccumulationSteps: accumulation,
      maxGradNorm,
      progress: false,
    });
    const { losses } = await trainer.train(tokenBatches(steps * accumulation, globalBatch));
    const params = Object.fromEntries(model.trainableParameters().map(([n, v]) => [n, [...v.dataSync()]]));
    return { losses, params, stateSize: trainer.optimizer.stateSize, trainable: model.numParameters() };
  }

  function compare(ranks: TrainRankResult[], ref: Awaited<ReturnType<typeof single>>) {
    const loss = Math.max(...ranks.map((r) => maxDiff(r.losses, ref.losses)));
    let param = 0;
    for (const r of ranks)
      for (const [name, values] of Object.entries(ref.params))
        param = Math.max(param, maxDiff(r.params[name], values));
    return { loss, param };
  }

  it("2 ranks × 1 row equal 1 rank × 2 rows: ten losses and the final parameters, with clipping", async () => {
    const [row0, row1] = [0, 1].map((r) => tokenLabelCount(tokenRows(tokenBatches(1, 2)[0], r, 2)));
    expect(row0).not.toBe(row1); // uneven, so averaging the ranks' mean losses would not be exact
    const ref = await single(2, 1, 0.5);
    const out = join(dir, "train");
    const ranks = await run<TrainRankResult>(2, {
      script: "train",
      globalBatch: 2,
      steps,
      maxGradNorm: 0.5,
      outputDir: out,
      saveSteps: 4,
    });
    const d = compare(ranks, ref);
    console.log(
      `zero2 tiny 2×1 vs 1×2: max |Δloss| ${d.loss.toExponential(2)}, max |Δparam| ${d.param.toExponential(2)}`,
    );
    expect(d.loss).toBeLessThan(1e-6);
    expect(d.param).toBeLessThan(1e-6);
    expect(ranks[0].losses).toEqual(ranks[1].losses); // the global loss is the same on every rank
    // …and it is what each rank's Trainer logs, not the rank's own share.
    for (const r of ranks) expect(r.logged).toEqual(r.losses.map((l) => Math.round(l * 1e4) / 1e4));
    // Each rank's optimizer state is half of the single-rank AdamW's (113 values: 56 + 57).
    expect(ref.stateSize).toBe(2 * ref.trainable);
    const half = Math.floor(ref.trainable / 2);
    expect(ranks.map((r) => r.stateSize)).toEqual([2 * half, 2 * (ref.trainable - half)]);

    // The checkpoint holds each rank's partition (DeepSpeed's layout) and resumes exactly on 2 ranks or 1.
    const ckpt = join(out, "checkpoint-4");
    for (const f of [
      "global_step4/zero_pp_rank_0_optim_states.safetensors",
      "global_step4/zero_pp_rank_1_optim_states.safetensors",
      "global_step4/zero_partitions.json",
      "latest",
      "trainer_state.json",
      "model.safetensors",
    ])
      expect(existsSync(join(ckpt, f)), f).toBe(true);
    const again = await run<TrainRankResult>(2, {
      script: "train",
      globalBatch: 2,
      steps,
      maxGradNorm: 0.5,
      resumeFrom: ckpt,
    });
    expect(again[0].losses).toEqual(ranks[0].losses.slice(4));
    expect(again[0].params).toEqual(ranks[0].params);
    const one = await run<TrainRankResult>(1, {
      script: "train",
      globalBatch: 2,
      steps,
      maxGradNorm: 0.5,
      resumeFrom: ckpt,
    });
    expect(maxDiff(one[0].losses, ref.losses.slice(4))).toBeLessThan(1e-6);
  });

  it("with gradient accumulation, 2 rows per rank (global micro-batch 4)", async () => {
    const ref = await single(4, 2, 1);
    const ranks = await run<TrainRankResult>(2, {
      script: "train",
      globalBatch: 4,
      steps,
      accumulation: 2,
      maxGradNorm: 1,
    });
    const d = compare(ranks, ref);
    expect(d.loss).toBeLessThan(1e-6);
    expect(d.param).toBeLessThan(1e-6);
  });

  it("a rank that dies mid-step ends the job with its name within seconds; the last checkpoint stays", async () => {
    const out = join(dir, "dies");
    const job = await launchRanks<Zero2Script, unknown>({
      worldSize: 2,
      entry,
      args: {
        script: "train",
        globalBatch: 2,
        steps,
        outputDir: out,
        saveSteps: 2,
        exitAt: { rank: 1, step: 5 },
      },
    });
    let diedAt = 0;
    job.workers[1].once("exit", () => {
      diedAt = Date.now();
    });
    const error = await job.result.catch((e: unknown) => e as RankError);
    const ms = Date.now() - diedAt;
    console.log(`zero2: a dead rank fails the job ${ms} ms after it died`);
    expect(error).toBeInstanceOf(RankError);
    expect((error as RankError).message).toMatch(/rank 1 of 2 failed: exited with code 9 before finishing/);
    expect(ms).toBeLessThan(3000);
    for (const f of ["trainer_state.json", "global_step4/zero_partitions.json", "model.safetensors"])
      expect(existsSync(join(out, "checkpoint-4", f)), f).toBe(true);
    expect(existsSync(join(out, "checkpoint-6"))).toBe(false);
  });
});
