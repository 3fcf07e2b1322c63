// A training checkpoint folder, HF Trainer's layout with safetensors/JSON instead of pickles:
//   model.safetensors + config.json (or adapter_model.safetensors + adapter_config.json) — the saver's
//   optimizer.safetensors  — AdamW exp_avg / exp_avg_sq per parameter, step in the metadata (one rank), or
//   global_step<N>/ + latest — each rank's partition of it, as DeepSpeed lays ZeRO-2 state out (N ranks)
//   scheduler.json         — LambdaLR's last_epoch (= optimizer steps taken)
//   rng_state.json         — the trainer's Rng and the model's own streams (LoRA dropout)
//   trainer_state.json     — HF's TrainerState (log_history, global_step, …), loadable by transformers
//   llava_ts_state.json    — llava-ts' own: the exact data position
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Module, type Rng, readJsonFile } from "@llava-ts/core";
import { TrainingError } from "../training-error.js";
import type { Collective } from "../zero2/collective/collective.js";
import type { PartitionedAdamW } from "../zero2/partitioned-adamw.js";
import {
  beginCheckpoint,
  CHECKPOINT_PREFIX,
  commitCheckpoint,
  rotateCheckpoints,
  TRAINER_STATE_FILE,
  tmpCheckpointDir,
  writeFailure,
} from "./checkpoint-dir.js";
import type { ModelSaver } from "./model-saver.js";
import { captureRngState, type RngStateJson, restoreRngState } from "./rng-state.js";
import {
  checkDataOrder,
  type DataOrder,
  type DataPosition,
  LLAVA_TS_STATE_FILE,
  type LogEntry,
  pythonJson,
  readLlavaTsState,
  readTrainerState,
  type TrainerStateJson,
  writeLlavaTsState,
  writeTrainerState,
} from "./trainer-state.js";

export interface RunInfo {
  maxSteps: number;
  epochs: number;
  batchSize: number | null;
}

/** The parts of a Trainer a checkpoint holds. */
export interface TrainingSnapshot {
  globalStep: number;
  position: DataPosition;
  logHistory: LogEntry[];
  run: RunInfo;
  readonly rng: Rng;
  readonly model: Module;
  readonly optimizer: PartitionedAdamW;
  readonly saver: ModelSaver;
  readonly collective: Collective;
  readonly options: {
    seed?: number;
    loggingSteps?: number;
    saveSteps?: number;
    evaluation?: { strategy: string; steps?: number };
  };
  /** The best evaluation so far (HF's best_metric / best_model_checkpoint), if any. */
  best?: { metric: number; step: number; checkpoint?: string };
  /** What the data position counts in, when the data says (checked on resume). */
  dataOrder?: DataOrder;
}

/**
 * Every rank calls this: rank 0 opens the temporary folder, every rank writes its optimizer partition into
 * it, rank 0 writes the rest and renames it into place (then prunes to `limit`). Returns the checkpoint's
 * path. A failure on any rank leaves the previous checkpoints as they were.
 */
export async function saveTrainingCheckpoint(
  t: TrainingSnapshot,
  outputDir: string,
  limit?: number,
  keep: readonly string[] = [],
): Promise<string> {
  const main = t.collective.rank === 0;
  const step = t.globalStep;
  const failed = (e: unknown) => writeFailure(`checkpoint-${step} in ${outputDir}`, outputDir, e, step);
  let dir: string;
  try {
    dir = main ? beginCheckpoint(outputDir, step) : tmpCheckpointDir(outputDir, step);
  } catch (e) {
    throw failed(e); // the other ranks, waiting at the barrier, are stopped by the launcher
  }
  await t.collective.barrier(); // the folder exists
  try {
    await t.optimizer.save(dir);
    if (main) await writeTrainingState(t, dir);
  } catch (e) {
    // The unfinished folder is never read as a checkpoint (and the next save removes it), so a folder
    // that has become read-only, where this too fails, loses nothing.
    if (main)
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {}
    throw failed(e);
  }
  if (!main) return join(outputDir, `${CHECKPOINT_PREFIX}${step}`);
  let path: string;
  try {
    path = commitCheckpoint(outputDir, step);
  } catch (e) {
    throw failed(e);
  }
  rotateCheckpoints(outputDir, limit, [path, ...keep]);
  return path;
}

/** Rank 0: the model (through the saver), scheduler, RNG and trainer state. */
async function writeTrainingState(t: TrainingSnapshot, dir: string): Promise<void> {
  await t.saver.save(dir);
  writeFileSync(join(dir, "scheduler.json"), pythonJson({ last_epoch: t.globalStep }));
  writeFileSync(
    join(dir, "rng_state.json"),
    pythonJson(captureRngState(t.rng, t.options.seed ?? 42, t.model)),
  );
  writeTrainerState(join(dir, TRAINER_STATE_FILE), {
    best_metric: t.best?.metric ?? null,
    best_model_checkpoint: t.best?.checkpoint ?? null,
    epoch: t.logHistory.at(-1)?.epoch ?? t.position.epoch,
    // TrainerState's eval_steps: the run's, else HF's default 500.
    eval_steps: (t.options.evaluation?.strategy === "steps" && t.options.evaluation.steps) || 500,
    global_step: t.globalStep,
    is_hyper_param_search: false,
    is_local_process_zero: true,
    is_world_process_zero: true,
    log_history: t.logHistory,
    logging_steps: t.options.loggingSteps ?? 1,
    max_steps: t.run.maxSteps,
    num_input_tokens_seen: 0,
    num_train_epochs: t.run.epochs,
    save_steps: t.options.saveSteps ?? 0,
    stateful_callbacks: {},
    total_flos: 0,
    train_batch_size: t.run.batchSize,
    trial_name: null,
    trial_params: null,
  });
  writeLlavaTsState(join(dir, LLAVA_TS_STATE_FILE), t.position, t.dataOrder);
}

export async function resumeTraining(t: TrainingSnapshot, dir: string): Promise<void> {
  const state = readTrainerState(join(dir, TRAINER_STATE_FILE));
  const scheduler = readJsonFile(join(dir, "scheduler.json")) as { last_epoch?: number };
  const rng = readJsonFile(join(dir, "rng_state.json")) as unknown as RngStateJson;
  const { order, ...position } = readLlavaTsState(join(dir, LLAVA_TS_STATE_FILE));
  checkDataOrder(dir, order, t.dataOrder ?? {}); // before anything is loaded
  if (scheduler.last_epoch !== state.global_step)
    throw new TrainingError(
      `${dir}: scheduler.json is at step ${scheduler.last_epoch}, trainer_state.json at ${state.global_step}`,
    );
  await t.saver.load(dir);
  t.optimizer.load(dir);
  if (t.optimizer.stepCount !== state.global_step)
    throw new TrainingError(
      `${dir}: optimizer state is at step ${t.optimizer.stepCount}, trainer_state.json at ${state.global_step}`,
    );
  t.globalStep = state.global_step;
  t.position = position;
  t.logHistory = state.log_history.filter((e) => e.step <= state.global_step);
  // Where load_best_model_at_end and early stopping left off (HF restores best_metric the same way).
  t.best =
    state.best_metric === null || state.best_metric === undefined
      ? undefined
      : {
          metric: state.best_metric,
          step: bestStep(state),
          checkpoint: state.best_model_checkpoint ?? undefined,
        };
  restoreRngState(rng, t.rng, t.model, join(dir, "rng_state.json"));
  t.run = { ...t.run, batchSize: state.train_batch_size };
}

/** The step of the best evaluation: its checkpoint's number, else the last evaluation with that value. */
function bestStep(state: TrainerStateJson): number {
  const named = /checkpoint-(\d+)$/.exec(state.best_model_checkpoint ?? "");
  if (named) return Number(named[1]);
  for (const e of [...state.log_history].reverse())
    if (Object.entries(e).some(([k, v]) => k.startsWith("eval_") && v === state.best_metric)) return e.step;
  return state.global_step;
}
