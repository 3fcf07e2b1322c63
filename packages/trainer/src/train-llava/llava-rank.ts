// One rank of trainLlava — the only place a LLaVA training run is set up, for one rank in the caller's
// process and for every rank of N (threads or processes): load the HF folder on this rank's backend,
// apply the strategy (a new LoRA seeded by the trainer's seed, or a PEFT adapter to continue), open this
// rank's data, train with the Trainer on this rank's collective, and (rank 0) write the final model or
// adapter into the output folder, as HF Trainer's save_model does at the end of the tutorial's run.py.
import { mkdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { type BackendName, initBackend, setMaxHeap } from "@llava-ts/core";
import type { LlavaBatch } from "@llava-ts/datasets";
import { LlavaDataLoader } from "@llava-ts/datasets";
import { copyModelFiles, LlavaForConditionalGeneration } from "@llava-ts/llava";
import { applyLora, type LoraConfigInput, loadAdapter } from "@llava-ts/lora";
import { formatStrategySummary, type Strategy, type StrategySummary } from "../apply-strategy.js";
import { writeFailure } from "../checkpoint/checkpoint-dir.js";
import type { LogEntry } from "../checkpoint/trainer-state.js";
import { evalBatchLoss } from "../llava-task.js";
import { Trainer } from "../trainer.js";
import type { EvaluationOptions, TrainerOptions } from "../trainer-options.js";
import type { Collective } from "../zero2/collective/collective.js";
import { type LlavaDataSpec, openEvalData, openRankData, type RankData } from "./rank-data.js";

/** Trainer options that can cross into a rank (no functions, no collective). */
export type PlainTrainerOptions = Omit<
  TrainerOptions<LlavaBatch>,
  "task" | "saver" | "progress" | "strategy" | "strategyOptions" | "callbacks" | "collective"
> & {
  /** Rank 0's progress bar on stderr. Default false. */
  progress?: boolean;
};

/** What every rank is given: structured-cloned into threads, JSON for processes. */
export interface LlavaRunArgs {
  /** An HF llava checkpoint folder. */
  modelDir: string;
  strategy: Strategy;
  /** use_lora: a PEFT adapter to load and keep training (e.g. fixtures/hf/llava-lora-init)… */
  adapterDir?: string;
  /** …or a new LoRA to inject, initialised from the trainer's seed. */
  lora?: LoraConfigInput;
  /** use_lora: keep the projector frozen. */
  freezeProjector?: boolean;
  /** Modules kept frozen whatever the strategy (the demo keeps its random token embeddings). */
  freeze?: string[];
  data: RankData;
  trainer?: PlainTrainerOptions;
  /** Evaluation during training: a dataset each rank reads its shard of, and when and how to use it. */
  eval?: LlavaEvalArgs;
  /** A checkpoint folder (written on any number of ranks), or "latest" in trainer.outputDir. */
  resumeFrom?: string;
  /** Default: LLAVA_BACKEND, else the best available (wasm here). */
  backend?: BackendName;
  /**
   * Recompute each decoder layer (and vision layer, when the tower trains) in the backward pass instead of
   * keeping its activations (HF's --gradient_checkpointing).
   */
  gradientCheckpointing?: boolean;
  /**
   * Cap on the heap's live tensors, e.g. "3GB". Default LLAVA_MAX_HEAP, else 2 GiB of the 4 GiB wasm heap (a
   * training step fragments the heap more than inference, which defaults to 3 GiB).
   */
  maxHeap?: number | string;
  /**
   * Keep the frozen weights in host memory as bfloat16 (2 bytes a value) and compute in float32 — what
   * --bf16 can honestly mean on a float32 engine. Weights stored in float32 are rounded once, as loading with
   * torch_dtype=bfloat16 would.
   */
  bf16?: boolean;
  /** Leave frozen weights in the checkpoint (see PretrainedOptions). Default "auto". */
  offload?: boolean | "auto";
  /** Rank 0 returns the trained parameters (tests, parity checks). */
  returnParams?: boolean;
}

/** HF's eval_strategy, eval_steps, load_best_model_at_end and early stopping, on an eval dataset. */
export interface LlavaEvalArgs extends Omit<EvaluationOptions, "run" | "metric"> {
  data: LlavaDataSpec;
}

export interface LlavaRankContext {
  rank: number;
  worldSize: number;
  collective: Collective;
  args: LlavaRunArgs;
  /** Lines for the user (rank 0's summary); the launcher's onLog. */
  log(line: string): void;
}

export interface LlavaRankResult {
  backend: BackendName;
  /** Backend init + model load + strategy (ms). */
  setupMs: number;
  losses: number[];
  /** Per step: wall time, and the part spent in collectives (ms). */
  stepMs: number[];
  commMs: number[];
  stateSize: number;
  trainable: number;
  globalStep: number;
  checkpoint?: string;
  /** Rank 0: where the final model or adapter was written (trainer.outputDir). */
  saved?: string;
  logHistory: LogEntry[];
  summary: StrategySummary;
  params?: Record<string, Float32Array>;
  /** What the rank's data reported (its `stats()`), when it has one. */
  dataStats?: unknown;
  /** With `eval`: the final model's evaluation (the best one's, with loadBestModelAtEnd). */
  evalMetrics?: Record<string, number>;
  /** The best evaluation during training: its eval_loss, step and checkpoint. */
  best?: { metric: number; step: number; checkpoint?: string };
  /** Micro-batches with no loss token (all their records skipped), passed over. */
  emptyMicroBatches: number;
}

export async function trainLlavaRank(ctx: LlavaRankContext): Promise<LlavaRankResult> {
  const { args: a, rank, worldSize, collective } = ctx;
  const t0 = performance.now();
  const backend = await initBackend({ backend: a.backend });
  setMaxHeap(a.maxHeap, { training: true }); // by default less than at inference (heap-cache.ts)
  const model = LlavaForConditionalGeneration.fromPretrained(a.modelDir, { offload: a.offload });
  model.gradientCheckpointing = a.gradientCheckpointing ?? false;
  try {
    if (a.adapterDir) loadAdapter(model, a.adapterDir, { trainable: true });
    const seed = a.trainer?.seed ?? 42;
    const lora = a.lora;
    const evalData = a.eval
      ? openEvalData(a.eval.data, { rank, worldSize, modelDir: a.modelDir, seed: a.trainer?.seed ?? 42 })
      : undefined;
    const evaluate = async () => evalLoss(model, evalData!, collective);
    const trainer = new Trainer(model, {
      ...a.trainer,
      evaluation: a.eval ? { ...a.eval, run: evaluate } : undefined,
      seed,
      progress: rank === 0 && (a.trainer?.progress ?? false),
      strategy: a.strategy,
      strategyOptions: {
        lora: lora ? (m) => applyLora(m, lora, { seed }) : undefined,
        freezeProjector: a.freezeProjector,
        freeze: a.freeze,
      },
      collective,
    });
    // Only now is it known what is frozen: those weights leave the heap, held at 2 bytes a value.
    if (a.bf16) model.offload(undefined, { dtype: "BF16" });
    const summary = trainer.summary!;
    if (rank === 0) ctx.log(formatStrategySummary(summary));
    const setupMs = performance.now() - t0;
    const data = await openRankData(a.data, { rank, worldSize, modelDir: a.modelDir, seed });
    if (rank === 0 && data instanceof LlavaDataLoader)
      ctx.log(
        `${data.options.dataset.length} records; ${data.length} micro-batches of ${data.options.batchSize} per rank per epoch`,
      );
    let result: Awaited<ReturnType<Trainer<LlavaBatch>["train"]>>;
    let evalMetrics: Record<string, number> | undefined;
    try {
      result = await trainer.train(data, { resumeFrom: a.resumeFrom });
      if (evalData) {
        // As run.py's trainer.evaluate() after training: the model being saved (the best one, if loaded).
        evalMetrics = await evaluate();
        if (rank === 0)
          ctx.log(
            `evaluation of the final model: eval_loss ${evalMetrics.eval_loss.toFixed(4)} on ${evalMetrics.eval_samples} records`,
          );
      }
    } finally {
      await data.close?.();
      await evalData?.close();
    }
    const out = a.trainer?.outputDir;
    let saved: string | undefined;
    if (out && rank === 0) {
      // Every rank holds every trained value after the all-gather: rank 0 writes them.
      const what = `the final ${a.strategy === "use_lora" ? "adapter" : "model"} to ${out}`;
      try {
        mkdirSync(out, { recursive: true });
        await trainer.saver.save(out);
        if (a.strategy !== "use_lora") copyModelFiles(a.modelDir, out);
      } catch (e) {
        throw writeFailure(what, out, e);
      }
      saved = out;
    }
    return {
      backend,
      setupMs,
      losses: result.losses,
      stepMs: result.steps.map((s) => s.ms),
      commMs: result.steps.map((s) => s.commMs),
      stateSize: trainer.optimizer.stateSize,
      trainable: summary.trainable,
      globalStep: result.globalStep,
      checkpoint: result.checkpoint,
      saved,
      logHistory: result.logHistory,
      summary,
      params:
        rank === 0 && a.returnParams
          ? Object.fromEntries(trainer.params.map((p) => [p.name, Float32Array.from(p.variable.dataSync())]))
          : undefined,
      dataStats: data.stats?.(),
      evalMetrics,
      best: trainer.best,
      emptyMicroBatches: trainer.emptyMicroBatches,
    };
  } finally {
    model.dispose();
  }
}

/** eval_loss over every rank's shard: Σ batch loss × rows / Σ rows, all-reduced (HF's evaluation loop). */
async function evalLoss(
  model: LlavaForConditionalGeneration,
  data: LlavaDataLoader,
  collective: Collective,
): Promise<Record<string, number>> {
  let sum = 0;
  let rows = 0;
  for await (const b of data.epoch(0)) {
    if (b.batchSize === 0) continue;
    sum += evalBatchLoss(model, b) * b.batchSize;
    rows += b.batchSize;
  }
  const total = Float64Array.of(sum, rows);
  await collective.allReduce(total, "sum");
  return { eval_loss: total[0] / total[1], eval_samples: total[1] };
}
