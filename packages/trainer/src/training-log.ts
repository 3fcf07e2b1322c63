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
  /** The clock (ms), for tests; default performance.now. */
  now?: () => number;
  /** The step the run starts from: metrics.jsonl keeps the lines up to it. Default 0. */
  startStep?: number;
}

/** Longest silence of a run's progress without a terminal. */
const QUIET_MS = 30_000;

export class TrainingLog {
  private readonly metrics?: MetricsLogger;
  private readonly bar?: ProgressBar;
  private readonly now: () => number;
  private readonly started: number;
  private window = { loss: 0, steps: 0 };
  private steps = 0;
  private lastLine: number;

  /** Entries are appended to `history` (the trainer's log_history, restored on resume). */
  constructor(
    readonly history: LogEntry[],
    private readonly options: TrainingLogOptions,
  ) {
    const { main, outputDir, progress } = options;
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
    this.lastLine = this.started;
    if (main && outputDir)
      this.metrics = new MetricsLogger(join(outputDir, "metrics.jsonl"), options.startStep);
    if (main && progress !== false) this.bar = new ProgressBar(progress === true ? undefined : progress);
  }

  record(r: StepResult): void {
    this.steps++;
    this.window = { loss: this.window.loss + r.loss, steps: this.window.steps + 1 };
    const { total, loggingSteps = 1 } = this.options;
    if (r.step % loggingSteps !== 0 && r.step !== total) {
      // Without a terminal (a log file, CI, nohup) a line at least every 30 s says the run is alive.
      if (this.bar && !this.bar.stream.isTTY && this.now() - this.lastLine >= QUIET_MS) this.draw(r, r.loss);
      return;
    }
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
    this.draw(r, mean);
  }

  /** An evaluation: a log_history entry {epoch, eval_*, step}, a metrics.jsonl line and a progress line. */
  recordEval(step: number, epoch: number, metrics: Record<string, number>): void {
    this.history.push({ epoch, ...metrics, step });
    this.metrics?.log({ step, epoch, ...metrics });
    const shown = Object.entries(metrics)
      .map(([k, v]) => `${k} ${Number.isInteger(v) && !k.endsWith("loss") ? v : v.toFixed(4)}`)
      .join(", ");
    this.message(`step ${step}: ${shown}`);
  }

  /** A line for the person watching (rank 0), on its own line even under a redrawn bar. */
  message(line: string): void {
    if (!this.bar) return;
    this.bar.finish();
    this.bar.stream.write(`${line}\n`);
    this.lastLine = this.now();
  }

  private draw(r: StepResult, loss: number): void {
    this.bar?.update({
      step: r.step,
      total: this.options.total ?? r.step,
      loss,
      lr: r.lr,
      elapsedMs: this.now() - this.started,
      stepsThisRun: this.steps,
    });
    this.lastLine = this.now();
  }

  /** Ends the progress bar's line. */
  finish(): void {
    this.bar?.finish();
  }
}

/** The (step, eval_loss) points of a log history: the evaluation curve. */
export function evalLossPoints(history: readonly LogEntry[]): { step: number; loss: number }[] {
  return history.filter((e) => e.eval_loss !== undefined).map((e) => ({ step: e.step, loss: e.eval_loss }));
}

/** The (step, loss) points of a log history: a loss curve's data. */
export function lossPoints(history: readonly LogEntry[]): { step: number; loss: number }[] {
  return history.filter((e) => e.loss !== undefined).map((e) => ({ step: e.step, loss: e.loss }));
}
