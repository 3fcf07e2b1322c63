// The rank entry trainZero2 starts: loads the LLaVA checkpoint on this rank's own TensorFlow.js backend,
// applies the strategy (and LoRA), and trains its rows of each global batch under ZeRO-2. Built as its own
// tsup entry (dist/llava-rank-worker.js); from the sources it is bundled on the fly (core's workerEntryUrl).
import { performance } from "node:perf_hooks";
import { initBackend } from "@llava-ts/core";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import { applyLora, loadAdapter } from "@llava-ts/lora";
import { Trainer } from "../trainer.js";
import { rankRows } from "./rank-data.js";
import { isRankWorker, runRank } from "./run-rank.js";
import type { RankRunResult, Zero2RankArgs } from "./train-zero2.js";
import { Zero2 } from "./zero2.js";

if (isRankWorker())
  runRank<Zero2RankArgs, RankRunResult>(async (ctx) => {
    const { args, rank, worldSize, collective } = ctx;
    const t0 = performance.now();
    const backend = await initBackend({ backend: args.backend });
    const model = LlavaForConditionalGeneration.fromPretrained(args.modelDir);
    if (args.adapterDir) loadAdapter(model, args.adapterDir, { trainable: true });
    const lora = args.lora;
    const zero = new Zero2({
      collective,
      weighting: args.weighting,
      consolidateOptimizer: args.consolidateOptimizer,
    });
    const trainer = new Trainer(
      model,
      zero.trainerOptions(model, {
        ...args.trainer,
        strategy: args.strategy,
        strategyOptions: {
          freezeProjector: args.freezeProjector,
          lora: lora ? (m) => applyLora(m, lora) : undefined,
        },
        progress: rank === 0 && (args.trainer?.progress ?? false),
      }),
    );
    const setupMs = performance.now() - t0;
    const data = zero.wrapData(args.batches.map((b) => rankRows(b, rank, worldSize)));
    const result = await trainer.train(data, { resumeFrom: args.resumeFrom });
    const trainable = trainer.params.reduce((n, p) => n + p.variable.size, 0);
    const params =
      rank === 0 && args.returnParams
        ? Object.fromEntries(trainer.params.map((p) => [p.name, p.variable.dataSync() as Float32Array]))
        : undefined;
    return {
      backend,
      setupMs,
      losses: zero.losses,
      stepMs: zero.stepMs,
      commMs: zero.commMs,
      stateSize: trainer.optimizer.stateSize,
      trainable,
      globalStep: result.globalStep,
      checkpoint: result.checkpoint,
      params,
    };
  });
