// What a run reports as it goes, every `loggingSteps` steps: HF's log_history (saved in checkpoints, and
// the points of a loss curve), metrics.jsonl (full precision, throughput, waits) and the progress bar.
// Every rank keeps the history; only rank 0 writes the file and draws the bar.
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { LogEntry } from "./checkpoint/trainer-state.js";
import { MetricsLogger } from "./metrics-logger.js";
import { ProgressBar, type ProgressStream } from "./progress-bar.js";
import type { BatchCounts } from "./train-task.js";

/** One optimizer step, as the trainer reports it. */
export interface StepResult {
  /** Optimizer steps completed (HF's global_step). */
  step: number;
  /** Σ over the step's micro-batches of loss / accumulation; with N ranks the global (token-weighted) one. */
  loss: number;
  /** The learning rate this step applied. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Epochs completed, fractional (HF's state.epoch). */
  epoch: number;
  /** Whether this step read the last micro-batch of an epoch. */
  endOfEpoch: boolean;
  /** This rank's micro-batches. */
  counts: BatchCounts;
  /** Wall time of the step, waits for data included (ms). */
  ms: number;
  /** The part spent waiting for batches, and the part in collective operations (other ranks included). */
  dataWaitMs: number;
  commMs: number;
}

export interface TrainingLogOptions {
  /** Rank 0 writes metrics.jsonl here and draws the progress bar. */
  main: boolean;
  outputDir?: string;
  /** true (stderr), false, or a stream. */
  progress?: boolean | ProgressStream;
  /** Log every N steps (and at `total`). Default 1. */
  loggingSteps?: number;
  /** Steps of the run, when known. */
  total?: number;
}

export class TrainingLog {
  private readonly metrics?: MetricsLogger;
  private readonly bar?: ProgressBar;
  private readonly started = performance.now();
  private window = { loss: 0, steps: 0 };
  private steps = 0;

  /** Entries are appended to `history` (the trainer's log_history, restored on resume). */
  constructor(
    readonly history: LogEntry[],
    private readonly options: TrainingLogOptions,
  ) {
    const { main, outputDir, progress } = options;
    if (main && outputDir) this.metrics = new MetricsLogger(join(outputDir, "metrics.jsonl"));
    if (main && progress !== false) this.bar = new ProgressBar(progress === true ? undefined : progress);
  }

  record(r: StepResult): void {
    this.steps++;
    this.window = { loss: this.window.loss + r.loss, steps: this.window.steps + 1 };
    const { total, loggingSteps = 1 } = this.options;
    if (r.step % loggingSteps !== 0 && r.step !== total) return;
    const mean = this.window.loss / this.window.steps;
    this.window = { loss: 0, steps: 0 };
    // HF rounds the logged loss to 4 decimals; metrics.jsonl keeps full precision.
    this.history.push({
      epoch: r.epoch,
      grad_norm: r.gradNorm,
      learning_rate: r.lr,
      loss: Math.round(mean * 1e4) / 1e4,
      step: r.step,
    });
    const seconds = r.ms / 1000;
    this.metrics?.log({
      step: r.step,
      epoch: r.epoch,
      loss: mean,
      lr: r.lr,
      grad_norm: r.gradNorm,
      tokens_per_second: r.counts.tokens / seconds,
      images_per_second: r.counts.images / seconds,
      samples_per_second: r.counts.samples / seconds,
      data_wait_ms: r.dataWaitMs,
      step_ms: r.ms,
    });
    this.bar?.update({
      step: r.step,
      total: total ?? r.step,
      loss: mean,
      lr: r.lr,
      elapsedMs: performance.now() - this.started,
      stepsThisRun: this.steps,
    });
  }

  /** Ends the progress bar's line. */
  finish(): void {
    this.bar?.finish();
  }
}

/** The (step, loss) points of a log history: a loss curve's data. */
export function lossPoints(history: readonly LogEntry[]): { step: number; loss: number }[] {
  return history.filter((e) => e.loss !== undefined).map((e) => ({ step: e.step, loss: e.loss }));
}
