// Metrics as JSON lines, one object per logged step, appended and flushed as they come so a crashed run
// keeps everything up to its last step (and `tail -f` works).
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

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
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  /** A step's metrics, or an evaluation's ({step, epoch, eval_loss, …}). */
  log(m: StepMetrics | EvalMetrics): void {
    appendFileSync(this.path, `${JSON.stringify(m)}\n`);
  }
}
