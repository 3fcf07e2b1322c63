// trainer_state.json as transformers 4.46's TrainerState.save_to_json writes it (sorted keys, indent 2),
// plus the exact data position a resumed run needs, which HF reconstructs by skipping batches.
import { readFileSync, writeFileSync } from "node:fs";
import { TrainingError } from "../training-error.js";

/** One log_history entry: {epoch, grad_norm, learning_rate, loss, step} per logged step. */
export type LogEntry = Record<string, number>;

export interface DataPosition {
  /** Epoch being read (0-based). */
  epoch: number;
  /** Micro-batches of that epoch already consumed. */
  batchInEpoch: number;
}

export interface TrainerStateJson {
  best_metric: null;
  best_model_checkpoint: null;
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
  /** llava-ts: where the data stream stands, for an exact resume (HF re-skips batches instead). */
  llava_ts: { data: DataPosition };
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
  let json: TrainerStateJson;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new TrainingError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (!json.llava_ts?.data || typeof json.global_step !== "number")
    throw new TrainingError(`${path}: not a llava-ts training checkpoint (no llava_ts.data / global_step)`);
  return json;
}
