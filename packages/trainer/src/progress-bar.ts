// Training progress for people: a redrawn bar with loss, lr and ETA on a terminal, plain lines otherwise
// (CI logs and tests, where carriage returns would make a mess).

export interface ProgressUpdate {
  step: number;
  total: number;
  loss: number;
  lr: number;
  /** Wall time since this run's first step (resumed steps excluded from the rate). */
  elapsedMs: number;
  /** Steps taken in this run (the ETA rate uses these, not the resumed ones). */
  stepsThisRun: number;
}

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export class ProgressBar {
  private drawn = false;

  constructor(readonly stream: ProgressStream = process.stderr) {}

  update(u: ProgressUpdate): void {
    const eta = u.stepsThisRun > 0 ? ((u.total - u.step) * u.elapsedMs) / u.stepsThisRun : Number.NaN;
    const info = `${u.step}/${u.total} loss ${u.loss.toFixed(4)} lr ${u.lr.toExponential(2)} ETA ${formatDuration(eta)}`;
    if (!this.stream.isTTY) {
      this.stream.write(`step ${info}\n`);
      return;
    }
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - info.length - 4));
    const done = Math.round((width * u.step) / Math.max(1, u.total));
    this.stream.write(`\r[${"#".repeat(done)}${".".repeat(width - done)}] ${info}\x1b[K`);
    this.drawn = true;
  }

  /** Ends the redrawn line so later output starts on its own line. */
  finish(): void {
    if (this.drawn) this.stream.write("\n");
    this.drawn = false;
  }
}
