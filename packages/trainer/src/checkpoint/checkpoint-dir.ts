// Checkpoint folders as HF Trainer names them (<output>/checkpoint-<step>). A checkpoint is written under
// a temporary name (by every rank: each its optimizer partition) and renamed into place only when
// complete, so a crash mid-write never replaces or corrupts the previous one; older ones are removed
// beyond save_total_limit.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TrainingError } from "../training-error.js";

export const CHECKPOINT_PREFIX = "checkpoint-";
const TMP_PREFIX = "tmp-checkpoint-";
/** Written last: a folder without it is not a finished checkpoint (e.g. copied in by hand, half done). */
export const TRAINER_STATE_FILE = "trainer_state.json";

export interface CheckpointInfo {
  step: number;
  path: string;
}

/** Finished checkpoints under `outputDir`, oldest first. */
export function listCheckpoints(outputDir: string): CheckpointInfo[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.startsWith(CHECKPOINT_PREFIX))
    .map((d) => ({ step: Number(d.name.slice(CHECKPOINT_PREFIX.length)), path: join(outputDir, d.name) }))
    .filter((c) => Number.isInteger(c.step) && existsSync(join(c.path, TRAINER_STATE_FILE)))
    .sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(outputDir: string): string | undefined {
  return listCheckpoints(outputDir).at(-1)?.path;
}

/** Where checkpoint-<step> is written before it is complete. */
export function tmpCheckpointDir(outputDir: string, step: number): string {
  return join(outputDir, `${TMP_PREFIX}${step}`);
}

/**
 * Starts writing checkpoint-<step>: removes folders left over by a crash mid-write (never valid
 * checkpoints) and creates the temporary folder, which it returns.
 */
export function beginCheckpoint(outputDir: string, step: number): string {
  mkdirSync(outputDir, { recursive: true });
  for (const d of readdirSync(outputDir))
    if (d.startsWith(TMP_PREFIX)) rmSync(join(outputDir, d), { recursive: true, force: true });
  const tmp = tmpCheckpointDir(outputDir, step);
  mkdirSync(tmp);
  return tmp;
}

/** Renames the complete temporary folder to checkpoint-<step>, replacing an older one only once it is in place. */
export function commitCheckpoint(outputDir: string, step: number): string {
  const tmp = tmpCheckpointDir(outputDir, step);
  const final = join(outputDir, `${CHECKPOINT_PREFIX}${step}`);
  if (existsSync(final)) {
    // Re-saving a step (a resumed run): move the old one aside first so a failure here loses nothing.
    const old = `${final}.old-${process.pid}`;
    renameSync(final, old);
    renameSync(tmp, final);
    rmSync(old, { recursive: true, force: true });
  } else renameSync(tmp, final);
  return final;
}

/** Keeps the newest `limit` checkpoints (and `keep`: the one just written, the best one). */
export function rotateCheckpoints(
  outputDir: string,
  limit: number | undefined,
  keep: string | readonly string[] = [],
): string[] {
  const kept = new Set(typeof keep === "string" ? [keep] : keep);
  if (!limit || limit <= 0) return [];
  const all = listCheckpoints(outputDir);
  const removed: string[] = [];
  for (const c of all.slice(0, Math.max(0, all.length - limit))) {
    if (kept.has(c.path)) continue;
    rmSync(c.path, { recursive: true, force: true });
    removed.push(c.path);
  }
  return removed;
}

/**
 * A file-system failure (a read-only or full disk, a folder where a file goes) while writing `what` as a
 * TrainingError that names it and the newest complete checkpoint, which the failure left as it was. Any
 * other error is returned as it is.
 */
export function writeFailure(what: string, outputDir: string, e: unknown, step?: number): unknown {
  const sys = e as NodeJS.ErrnoException;
  if (!(e instanceof Error) || !sys.code || !sys.syscall) return e;
  let last: string | undefined;
  try {
    last = latestCheckpoint(outputDir);
  } catch {} // an unreadable folder: no checkpoint to point to
  const kept = last ? `the last checkpoint, ${last}, is complete` : "no checkpoint had been saved";
  return new TrainingError(`cannot write ${what}: ${e.message}; ${kept}`, step);
}
