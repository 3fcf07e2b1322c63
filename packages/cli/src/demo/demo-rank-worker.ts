// One ZeRO-2 rank of the demo's training (started by trainDemoPhase through launchRanks): like the
// trainer's own llava-rank-worker, plus one demo choice — the tied 151,936 × E token embedding keeps its
// random values. Training it costs a dense V × E gradient, its reduce-scatter and AdamW over ~10 M values
// every step (≈ 4× the rest of a step at this size); frozen random rows serve as well as input and output
// vectors for a 64-wide model, so the transformer layers and the projector learn from scratch around them.
// Built as its own tsup entry (dist/demo-rank-worker.js); from the sources it is bundled on the fly.
import { performance } from "node:perf_hooks";
import { initBackend } from "@llava-ts/core";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import { applyLora, type LoraConfigInput } from "@llava-ts/lora";
import {
  applyStrategy,
  type Batch,
  isRankWorker,
  type PlainTrainerOptions,
  rankRows,
  runRank,
  type Strategy,
  Trainer,
  Zero2,
} from "@llava-ts/trainer";

export interface DemoRankArgs {
  modelDir: string;
  strategy: Strategy;
  lora?: LoraConfigInput;
  freezeEmbeddings: boolean;
  batches: Batch[];
  trainer: PlainTrainerOptions;
}

export interface DemoRankResult {
  losses: number[];
  stepMs: number[];
  setupMs: number;
  trainable: number;
  globalStep: number;
  checkpoint?: string;
}

if (isRankWorker())
  runRank<DemoRankArgs, DemoRankResult>(async ({ args, rank, worldSize, collective }) => {
    const t0 = performance.now();
    await initBackend();
    const model = LlavaForConditionalGeneration.fromPretrained(args.modelDir);
    const lora = args.lora;
    applyStrategy(model, args.strategy, { lora: lora ? (m) => applyLora(m, lora) : undefined });
    if (args.freezeEmbeddings) model.freeze("language_model.model.embed_tokens");
    const zero = new Zero2({ collective });
    // No strategy here: the trainer trains exactly what is trainable now.
    const trainer = new Trainer(
      model,
      zero.trainerOptions(model, {
        ...args.trainer,
        progress: rank === 0 && (args.trainer.progress ?? false),
      }),
    );
    const setupMs = performance.now() - t0;
    const result = await trainer.train(zero.wrapData(args.batches.map((b) => rankRows(b, rank, worldSize))));
    return {
      losses: zero.losses,
      stepMs: zero.stepMs,
      setupMs,
      trainable: trainer.params.reduce((n, p) => n + p.variable.size, 0),
      globalStep: result.globalStep,
      checkpoint: result.checkpoint,
    };
  });
