// trainer_state.json as transformers 4.46's TrainerState.save_to_json writes it (sorted keys, indent 2,
// only TrainerState's fields, so TrainerState.load_from_json reads it), and llava_ts_state.json beside it:
// the exact data position a resumed run needs, which HF reconstructs by skipping batches.
import { writeFileSync } from "node:fs";
import { readJsonFile } from "@llava-ts/core";
import { TrainingError } from "../training-error.js";

export const LLAVA_TS_STATE_FILE = "llava_ts_state.json";

/** One log_history entry: {epoch, grad_norm, learning_rate, loss, step} per logged step. */
export type LogEntry = Record<string, number>;

export interface DataPosition {
  /** Epoch being read (0-based). */
  epoch: number;
  /** Micro-batches of that epoch already consumed. */
  batchInEpoch: number;
}

/** What a data position counts in, when the data says: rows per micro-batch over all ranks, shuffling seed. */
export interface DataOrder {
  rows?: number;
  seed?: number;
}

export interface TrainerStateJson {
  best_metric: number | null;
  best_model_checkpoint: string | null;
  epoch: number;
  eval_steps: number;
  global_step: number;
  is_hyper_param_search: false;
  is_local_process_zero: true;
  is_world_process_zero: true;
  log_history: LogEntry[];
  logging_steps: number;
  max_steps: number;
  num_input_tokens_seen: number;
  num_train_epochs: number;
  save_steps: number;
  stateful_callbacks: Record<string, unknown>;
  total_flos: number;
  train_batch_size: number | null;
  trial_name: null;
  trial_params: null;
}

/** llava_ts_state.json: llava-ts' own part of a training checkpoint. */
export interface LlavaTsStateJson {
  /** Where the data stream stands, for an exact resume (HF re-skips batches instead). */
  data: { epoch: number; batch_in_epoch: number; rows_per_micro_batch?: number; seed?: number };
}

/** Python's json.dumps(obj, indent=2, sort_keys=True) + "\n" (for finite numbers and plain values). */
export function pythonJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === "object")
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

export function writeTrainerState(path: string, state: TrainerStateJson): void {
  writeFileSync(path, pythonJson(state));
}

export function readTrainerState(path: string): TrainerStateJson {
  const json = readJsonFile(path) as unknown as TrainerStateJson;
  if (typeof json.global_step !== "number" || !Array.isArray(json.log_history))
    throw new TrainingError(`${path}: not a trainer state (no global_step / log_history)`);
  return json;
}

export function writeLlavaTsState(path: string, position: DataPosition, order: DataOrder = {}): void {
  const json: LlavaTsStateJson = {
    data: {
      epoch: position.epoch,
      batch_in_epoch: position.batchInEpoch,
      rows_per_micro_batch: order.rows,
      seed: order.seed,
    },
  };
  writeFileSync(path, pythonJson(json));
}

/** The data position saved in llava_ts_state.json, and what it counts in (absent in older checkpoints). */
export function readLlavaTsState(path: string): DataPosition & { order: DataOrder } {
  const { data } = readJsonFile(path) as Partial<LlavaTsStateJson>;
  if (!Number.isInteger(data?.epoch) || !Number.isInteger(data?.batch_in_epoch))
    throw new TrainingError(`${path}: no data position (data.epoch, data.batch_in_epoch)`);
  return {
    epoch: data!.epoch,
    batchInEpoch: data!.batch_in_epoch,
    order: { rows: data!.rows_per_micro_batch, seed: data!.seed },
  };
}

/**
 * Refuses to resume with data read in other units: a saved position counts micro-batches of the saved
 * rows in the saved seed's order, and means other records in any other (HF reinterprets it, with a warning).
 */
export function checkDataOrder(dir: string, saved: DataOrder, now: DataOrder): void {
  if (saved.rows !== undefined && now.rows !== undefined && saved.rows !== now.rows)
    throw new TrainingError(
      `${dir} was saved reading ${saved.rows} rows per micro-batch over all ranks (per-device batch size × ranks); this run reads ${now.rows}, so its saved data position would point at other records. Resume with a per-device batch size × ranks of ${saved.rows}, or start a new run`,
    );
  if (saved.seed !== undefined && now.seed !== undefined && saved.seed !== now.seed)
    throw new TrainingError(
      `${dir} was saved with seed ${saved.seed}; this run has seed ${now.seed}, which shuffles the data in another order, so the saved data position would point at other records. Resume with seed ${saved.seed}, or start a new run`,
    );
}
