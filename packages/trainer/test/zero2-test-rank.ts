// Test-only rank entry: (1) PartitionedAdamW alone on seeded flat gradients; (2) the Trainer on this
// rank's collective with the tiny token model, each rank taking its rows of the same seeded global batches.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import * as tf from "@tensorflow/tfjs-core";
import type { OptimizerParam } from "../src/adamw.js";
import { Trainer } from "../src/trainer.js";
import { isRankWorker, runRank } from "../src/zero2/launch/run-rank.js";
import { PartitionedAdamW } from "../src/zero2/partitioned-adamw.js";
import { TinyTokenModel, tokenBatches, tokenRows, tokenTask } from "./tiny-token-model.js";

export type Zero2Script =
  | {
      script: "adamw";
      sizes: number[];
      steps: number;
      saveAt?: { step: number; dir: string };
      loadFrom?: string;
    }
  | {
      script: "train";
      globalBatch: number;
      steps: number;
      accumulation?: number;
      maxGradNorm?: number;
      weighting?: "tokens" | "mean";
      outputDir?: string;
      saveSteps?: number;
      resumeFrom?: string;
      /** Rank `rank` calls process.exit(9) inside the loss of step `step`. */
      exitAt?: { rank: number; step: number };
    };

/** Seeded gradient of parameter `p` at step `s` (the same on every rank: the optimizer alone is tested). */
export function seededGradient(size: number, p: number, s: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.7 + p * 3.1 + s * 1.9) * (1 + (i % 3)));
}

export function seededParams(sizes: number[]): OptimizerParam[] {
  return sizes.map((n, p) => ({
    name: `p${p}`,
    variable: tf.variable(tf.tensor1d(Float32Array.from({ length: n }, (_, i) => Math.cos(i + p)))),
    decay: p % 2 === 0,
  }));
}

export const OPT = { lr: 0.01, weightDecay: 0.1, betas: [0.8, 0.95] as [number, number], eps: 1e-6 };

/** Puts the seeded gradients of step `s` into the optimizer's buffer (parameter 1 never has one). */
export function setSeededGradients(opt: PartitionedAdamW, sizes: number[], s: number): void {
  opt.grads.reset();
  sizes.forEach((n, p) => {
    if (p === 1) return;
    opt.grads.views[p].set(seededGradient(n, p, s));
    opt.grads.present[p] = true;
  });
}

if (isRankWorker())
  runRank<Zero2Script, unknown>(async (ctx) => {
    await initBackend({ backend: "cpu" });
    const { args, collective, rank, worldSize } = ctx;
    if (args.script === "adamw") {
      const params = seededParams(args.sizes);
      const opt = new PartitionedAdamW(params, { ...OPT, collective });
      if (args.loadFrom) {
        const saved = JSON.parse(readFileSync(join(args.loadFrom, "params.json"), "utf8")) as number[][];
        for (const [i, p] of params.entries()) p.variable.assign(tf.tensor1d(saved[i]));
        opt.load(args.loadFrom);
      }
      for (let s = opt.stepCount + 1; s <= args.steps; s++) {
        // Every rank has the same gradient, so their average is that gradient.
        setSeededGradients(opt, args.sizes, s);
        await opt.step(OPT.lr * (1 - s / 20));
        if (args.saveAt?.step === s) {
          await opt.save(args.saveAt.dir); // every rank its partition, rank 0 the layout
          if (rank === 0) {
            const values = params.map((p) => [...p.variable.dataSync()]);
            writeFileSync(join(args.saveAt.dir, "params.json"), JSON.stringify(values));
          }
        }
        await collective.barrier();
      }
      return {
        params: params.map((p) => [...p.variable.dataSync()]),
        stateSize: opt.stateSize,
        range: [opt.start, opt.end],
      };
    }
    const model = new TinyTokenModel();
    let step = 1;
    let micro = 0;
    const accumulation = args.accumulation ?? 1;
    const task = tokenTask(model, () => {
      if (args.exitAt?.rank === rank && args.exitAt.step === step) process.exit(9);
      if (++micro % accumulation === 0) step++;
    });
    const trainer = new Trainer(model, {
      task,
      optimizer: { ...OPT },
      maxSteps: args.steps,
      gradientAccumulationSteps: accumulation,
      maxGradNorm: args.maxGradNorm ?? 0,
      outputDir: args.outputDir,
      saveSteps: args.saveSteps,
      progress: false,
      collective,
      lossWeighting: args.weighting,
    });
    step = trainer.globalStep + 1;
    const global = tokenBatches(args.steps * accumulation, args.globalBatch);
    const data = global.map((b) => tokenRows(b, rank, worldSize));
    const result = await trainer.train(data, { resumeFrom: args.resumeFrom });
    return {
      losses: result.losses,
      logged: result.logHistory.map((e) => e.loss),
      params: Object.fromEntries(model.trainableParameters().map(([n, v]) => [n, [...v.dataSync()]])),
      stateSize: trainer.optimizer.stateSize,
      checkpoint: result.checkpoint,
    };
  });
