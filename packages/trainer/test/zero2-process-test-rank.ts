// Test-only rank process: zero2-test-rank.ts's "train" script with each rank its own process on a
// TcpCollective: the Trainer on the tiny token model, each rank taking its rows of the same seeded global
// batches. The collective has no contiguous gradient buffers, so the optimizer takes its copying path.
import { initBackend } from "@llava-ts/core";
import { Trainer } from "../src/trainer.js";
import { isRankProcess, runRankProcess } from "../src/zero2/launch/run-rank-process.js";
import { TinyTokenModel, tokenBatches, tokenRows, tokenTask } from "./tiny-token-model.js";
import { OPT } from "./zero2-test-rank.js";

export interface Zero2ProcessScript {
  globalBatch: number;
  steps: number;
  maxGradNorm?: number;
  outputDir?: string;
  saveSteps?: number;
  resumeFrom?: string;
  /** Rank `rank` calls process.exit(9) inside the loss of step `step`. */
  exitAt?: { rank: number; step: number };
}

if (isRankProcess())
  runRankProcess<Zero2ProcessScript, unknown>(async ({ args, collective, rank, worldSize }) => {
    await initBackend({ backend: "cpu" });
    const model = new TinyTokenModel();
    let step = 1;
    const task = tokenTask(model, () => {
      if (args.exitAt?.rank === rank && args.exitAt.step === step) process.exit(9);
      step++;
    });
    const trainer = new Trainer(model, {
      task,
      optimizer: { ...OPT },
      maxSteps: args.steps,
      maxGradNorm: args.maxGradNorm ?? 0,
      outputDir: args.outputDir,
      saveSteps: args.saveSteps,
      progress: false,
      collective,
    });
    step = trainer.globalStep + 1;
    const global = tokenBatches(args.steps, args.globalBatch);
    const data = global.map((b) => tokenRows(b, rank, worldSize));
    const result = await trainer.train(data, { resumeFrom: args.resumeFrom });
    return {
      losses: result.losses,
      logged: result.logHistory.map((e) => e.loss),
      params: Object.fromEntries(model.trainableParameters().map(([n, v]) => [n, [...v.dataSync()]])),
      stateSize: trainer.optimizer.stateSize,
      commMs: result.steps.map((s) => s.commMs),
      stepMs: result.steps.map((s) => s.ms),
    };
  });
