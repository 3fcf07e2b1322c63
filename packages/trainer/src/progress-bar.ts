// Training progress for people: a redrawn bar with loss, lr and ETA on a terminal, plain lines otherwise
// (CI logs and tests, where carriage returns would make a mess).
import { writeSync } from "node:fs";
import { isatty } from "node:tty";

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

/**
 * Standard error, written synchronously to its file descriptor. In a worker thread — a ZeRO-2 rank — the
 * `process.stderr` stream is relayed through the main thread's event loop, and a rank that trains without
 * yielding held every line back until its phase ended (a demo under nohup printed step 1, then nothing).
 */
export const syncStderr: ProgressStream = {
  write: (s: string) => writeSync(2, s),
  get isTTY() {
    return isatty(2);
  },
  get columns() {
    return process.stderr.columns;
  },
};

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

  constructor(readonly stream: ProgressStream = syncStderr) {}

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
