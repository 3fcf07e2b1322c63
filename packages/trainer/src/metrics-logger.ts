// Metrics as JSON lines, one object per logged step, appended and flushed as they come so a crashed run
// keeps everything up to its last step (and `tail -f` works). A run that starts (or resumes) at step s
// first drops the lines past s, so a resumed run does not repeat the steps it computes again.
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { writeFailure } from "./checkpoint/checkpoint-dir.js";

export interface StepMetrics {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_second: number;
  images_per_second: number;
  samples_per_second: number;
  /** Time this step waited for data (the loader's share of the step). */
  data_wait_ms: number;
  step_ms: number;
}

export interface EvalMetrics {
  step: number;
  epoch: number;
  [metric: string]: number;
}

export class MetricsLogger {
  /** `startStep`: the step the run starts from (0 for a new run, the checkpoint's for a resumed one). */
  constructor(
    readonly path: string,
    startStep = 0,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path) && statSync(path).isFile()) truncateAfter(path, startStep);
  }

  /** A step's metrics, or an evaluation's ({step, epoch, eval_loss, …}). */
  log(m: StepMetrics | EvalMetrics): void {
    try {
      appendFileSync(this.path, `${JSON.stringify(m)}\n`);
    } catch (e) {
      // A full or read-only disk: say which file (Node's "ENOSPC: …, write" names none).
      throw writeFailure(this.path, dirname(this.path), e, m.step);
    }
  }
}

/** Keeps the lines of steps ≤ `step` (a line that does not parse, e.g. cut by a crash, goes too). */
function truncateAfter(path: string, step: number): void {
  const lines = readFileSync(path, "utf8").split("\n");
  const kept = lines.filter((line) => {
    if (!line.trim()) return false;
    try {
      const s = (JSON.parse(line) as { step?: unknown }).step;
      return typeof s === "number" && s <= step;
    } catch {
      return false;
    }
  });
  if (kept.length !== lines.filter((l) => l.trim()).length)
    writeFileSync(path, kept.map((l) => `${l}\n`).join(""));
}
