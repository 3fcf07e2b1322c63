import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxDiff } from "../../test/max-diff.js";
import {
  TinyTokenModel,
  tokenBatches,
  tokenLabelCount,
  tokenRows,
  tokenTask,
} from "../../test/tiny-token-model.js";
import type { Zero2ProcessScript } from "../../test/zero2-process-test-rank.js";
import { OPT } from "../../test/zero2-test-rank.js";
import { Trainer } from "../trainer.js";
import { launchProcesses } from "./launch/launch-processes.js";
import { RankError } from "./launch/launch-ranks.js";

const entry = new URL("../../test/zero2-process-test-rank.ts", import.meta.url);
const run = async <R>(worldSize: number, args: Zero2ProcessScript) =>
  (await launchProcesses<Zero2ProcessScript, R>({ worldSize, entry, args })).result;

interface TrainRankResult {
  losses: number[];
  logged: number[];
  params: Record<string, number[]>;
  stateSize: number;
  commMs: number[];
  stepMs: number[];
}

let dir: string;
beforeAll(async () => {
  await initBackend({ backend: "cpu" });
  dir = mkdtempSync(join(tmpdir(), "zero2-process-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Trainer on N ranks, one process per rank over TCP (tiny token model)", () => {
  const steps = 10;

  /** One process, plain AdamW, the whole global batch as one micro-batch. */
  async function single(globalBatch: number, maxGradNorm: number) {
    const model = new TinyTokenModel();
    const trainer = new Trainer(model, {
      task: tokenTask(model),
      optimizer: { ...OPT },
      maxSteps: steps,
      maxGradNorm,
      progress: false,
    });
    const { losses } = await trainer.train(tokenBatches(steps, globalBatch));
    const params = Object.fromEntries(model.trainableParameters().map(([n, v]) => [n, [...v.dataSync()]]));
    return { losses, params, stateSize: trainer.optimizer.stateSize, trainable: model.numParameters() };
  }

  it("2 processes × 1 row equal 1 rank × 2 rows: ten losses and the final parameters, with clipping; checkpoint and resume", async () => {
    const [row0, row1] = [0, 1].map((r) => tokenLabelCount(tokenRows(tokenBatches(1, 2)[0], r, 2)));
    expect(row0).not.toBe(row1); // uneven, so averaging the ranks' mean losses would not be exact
    const ref = await single(2, 0.5);
    const out = join(dir, "train");
    const args = { globalBatch: 2, steps, maxGradNorm: 0.5, outputDir: out, saveSteps: 4 };
    const ranks = await run<TrainRankResult>(2, args);
    let loss = 0;
    let param = 0;
    for (const r of ranks) {
      loss = Math.max(loss, maxDiff(r.losses, ref.losses));
      for (const [name, values] of Object.entries(ref.params))
        param = Math.max(param, maxDiff(r.params[name], values));
    }
    const comm = ranks[0].commMs.reduce((s, x) => s + x, 0) / steps;
    const step = ranks[0].stepMs.reduce((s, x) => s + x, 0) / steps;
    console.log(
      `zero2 tcp 2 processes × 1 row vs 1 × 2: max |Δloss| ${loss.toExponential(2)}, max |Δparam| ${param.toExponential(2)}; ` +
        `step ${step.toFixed(1)} ms of which collectives ${comm.toFixed(1)} ms`,
    );
    expect(loss).toBeLessThan(1e-5);
    expect(param).toBeLessThan(1e-5);
    expect(ranks[0].losses).toEqual(ranks[1].losses); // the global loss is the same on every rank
    expect(ranks[0].params).toEqual(ranks[1].params); // all-gathered bits: identical replicas
    for (const r of ranks) expect(r.logged).toEqual(r.losses.map((l) => Math.round(l * 1e4) / 1e4));
    const half = Math.floor(ref.trainable / 2);
    expect(ranks.map((r) => r.stateSize)).toEqual([2 * half, 2 * (ref.trainable - half)]);

    // The checkpoint's barriers went over TCP; resuming from it on 2 processes continues exactly.
    const ckpt = join(out, "checkpoint-4");
    for (const f of [
      "global_step4/zero_pp_rank_0_optim_states.safetensors",
      "global_step4/zero_pp_rank_1_optim_states.safetensors",
      "trainer_state.json",
      "model.safetensors",
    ])
      expect(existsSync(join(ckpt, f)), f).toBe(true);
    const again = await run<TrainRankResult>(2, {
      globalBatch: 2,
      steps,
      maxGradNorm: 0.5,
      resumeFrom: ckpt,
    });
    expect(again[0].losses).toEqual(ranks[0].losses.slice(4));
    expect(again[0].params).toEqual(ranks[0].params);
  });

  it("a rank process that dies mid-step ends the job with its name within seconds; the last checkpoint stays", async () => {
    const out = join(dir, "dies");
    const job = await launchProcesses<Zero2ProcessScript, unknown>({
      worldSize: 2,
      entry,
      args: { globalBatch: 2, steps, outputDir: out, saveSteps: 2, exitAt: { rank: 1, step: 5 } },
    });
    let diedAt = 0;
    job.processes[1].once("exit", () => {
      diedAt = Date.now();
    });
    const error = await job.result.catch((e: unknown) => e as RankError);
    const ms = Date.now() - diedAt;
    console.log(`zero2 tcp: a dead rank process fails the job ${ms} ms after it died`);
    expect(error).toBeInstanceOf(RankError);
    expect((error as RankError).message).toMatch(/^rank 1 of 2 failed: exited with code 9 before finishing$/);
    expect(ms).toBeLessThan(3000);
    for (const f of ["trainer_state.json", "global_step4/zero_partitions.json", "model.safetensors"])
      expect(existsSync(join(out, "checkpoint-4", f)), f).toBe(true);
    expect(existsSync(join(out, "checkpoint-6"))).toBe(false);
  });
});
