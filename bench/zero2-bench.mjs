// train_step.zero2.N: the bench batch split over N data-parallel ranks (worker threads, one wasm backend
// each — one core each; N = 1 in this process, which run.mjs starts with LLAVA_THREADS=1), global batch
// unchanged, through the trainer's trainLlava.
// The bench model is written once to a temporary HF folder for the ranks to load.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchBatch, buildBenchModel, LORA } from "./bench-model.mjs";
import { trainStepFlops } from "./flops.mjs";
import { median } from "./stats.mjs";

export async function trainZero2Bench(N, strategy, reps, warmup) {
  const { trainLlava } = await import("@llava-ts/trainer");
  const dir = mkdtempSync(join(tmpdir(), "llava-bench-zero2-"));
  try {
    const model = buildBenchModel();
    await model.savePretrained(join(dir, "model"));
    model.dispose();
    const batch = benchBatch();
    const steps = warmup + reps;
    const result = await trainLlava({
      ranks: N,
      modelDir: join(dir, "model"),
      strategy,
      lora: strategy === "use_lora" ? LORA : undefined,
      data: { batches: Array.from({ length: steps }, () => batch) },
      trainer: { optimizer: { lr: 1e-4, weightDecay: 0 }, maxSteps: steps, progress: false },
    });
    // A step ends when its slowest rank does.
    const times = result.stepMs[0]
      .map((_, k) => Math.max(...result.stepMs.map((r) => r[k])) / 1000)
      .slice(warmup);
    const comm = result.commMs[0]
      .map((_, k) => Math.max(...result.commMs.map((r) => r[k])) / 1000)
      .slice(warmup);
    const s = median(times);
    const tokens = batch.batchSize * batch.seqLength;
    const flops = trainStepFlops(strategy);
    return {
      strategy,
      ranks: N,
      seconds_per_step: s,
      tokens_per_second: tokens / s,
      tokens_per_step: tokens,
      comm_seconds: median(comm),
      model_flops: flops.total,
      model_flops_per_second: flops.total / s,
      trainable: result.trainable,
      optimizer_state_per_rank: result.stateSizes,
      losses: result.losses,
      samples: times,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
