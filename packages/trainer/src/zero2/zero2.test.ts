import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdamW } from "../adamw.js";
import { Trainer } from "../trainer.js";
import { launchRanks, RankError } from "./launch-ranks.js";
import { TinyTokenModel, tokenBatches, tokenTask } from "./tiny-token-model.js";
import { consolidateZeroCheckpoint, zeroRankFile } from "./zero2-checkpoint.js";
import { OPT, seededGradient, seededParams, type Zero2Script } from "./zero2-test-rank.js";

const entry = new URL("./zero2-test-rank.ts", import.meta.url);
const run = async <R>(worldSize: number, args: Zero2Script) =>
  (await launchRanks<Zero2Script, R>({ worldSize, entry, args, bucketSize: 16 })).result;

interface AdamwResult {
  params: number[][];
  stateSize: number;
  range: [number, number];
}
interface TrainRankResult {
  losses: number[];
  localLosses: number[];
  params: Record<string, number[]>;
  stateSize: number;
  checkpoint?: string;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

let dir: string;
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  dir = mkdtempSync(join(tmpdir(), "zero2-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("PartitionedAdamW", () => {
  const sizes = [7, 13, 1, 30, 5]; // 56 values: 18 / 19 / 19 over 3 ranks, boundaries inside parameters
  const steps = 6;

  /** The unpartitioned AdamW on the same seeded gradients (parameter 1 never has one). */
  function reference(from = 1, start?: { params: number[][]; optimizer?: string }) {
    const params = seededParams(sizes);
    if (start) params.forEach((p, i) => p.variable.assign(tf.tensor1d(start.params[i])));
    const opt = new AdamW(params, OPT);
    if (start?.optimizer) opt.load(start.optimizer);
    for (let s = from; s <= steps; s++)
      opt.step(
        sizes.map((n, p) => (p === 1 ? undefined : seededGradient(n, p, s))),
        OPT.lr * (1 - s / 20),
      );
    return { params: params.map((p) => [...p.variable.dataSync()]), stateSize: opt.stateSize };
  }

  it("3 ranks update exactly as one AdamW, each holding a third of the state", async () => {
    const res = await run<AdamwResult>(3, { script: "adamw", sizes, steps });
    const ref = reference();
    for (const r of res) expect(r.params).toEqual(ref.params); // bit-identical, on every rank
    expect(res.map((r) => r.range)).toEqual([
      [0, 18],
      [18, 37],
      [37, 56],
    ]);
    expect(res.map((r) => r.stateSize)).toEqual([36, 38, 38]);
    expect(res.reduce((s, r) => s + r.stateSize, 0)).toBe(2 * 56);
  });

  it("a checkpoint from 3 ranks resumes exactly on 2 ranks, and consolidated on a plain AdamW", async () => {
    const ckpt = join(dir, "adamw");
    const full = await run<AdamwResult>(3, {
      script: "adamw",
      sizes,
      steps: 3,
      saveAt: { step: 3, dir: ckpt },
    });
    writeFileSync(join(ckpt, "params.json"), JSON.stringify(full[0].params));
    expect(existsSync(join(ckpt, "global_step3", zeroRankFile(2)))).toBe(true);
    expect(readFileSync(join(ckpt, "latest"), "utf8")).toBe("global_step3");
    const resumed = await run<AdamwResult>(2, { script: "adamw", sizes, steps, loadFrom: ckpt });
    expect(resumed[0].params).toEqual(reference().params);
    await consolidateZeroCheckpoint(ckpt);
    const plain = reference(4, { params: full[0].params, optimizer: ckpt });
    expect(plain.params).toEqual(reference().params);
  });
});
