// `--deepspeed ds_config.json`: the DeepSpeed config of the tutorial's run_zero2.sh, read for what maps onto
// llava-ts's ZeRO-2 run. "auto" takes the value from the flags (as HF's Trainer fills it in); a value that
// contradicts a flag given on the command line is an error (HF raises on such mismatches too); keys with no
// counterpart here are named in a warning, never silently dropped.
import { readFileSync } from "node:fs";
import { UsageError } from "../args.js";

/** What the config sets, in `llava train`'s flag names, plus the warnings for what it cannot honour. */
export interface DeepSpeedSettings {
  values: Record<string, number>;
  /** Switches it sets (bf16.enabled → --bf16). */
  switches: Record<string, boolean>;
  bucketSize?: number;
  warnings: string[];
}

type Json = Record<string, unknown>;

/** Keys that describe what llava-ts's ZeRO-2 does anyway. */
const MATCHING = new Set([
  "zero_optimization.contiguous_gradients",
  "zero_optimization.reduce_scatter",
  "zero_optimization.allgather_partitions",
]);

export function readDeepSpeedConfig(file: string): DeepSpeedSettings {
  let config: Json;
  try {
    config = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UsageError(`llava train: --deepspeed ${file}: ${(e as Error).message}`, "--deepspeed");
  }
  const values: Record<string, number> = {};
  const switches: Record<string, boolean> = {};
  const warnings: string[] = [];
  let bucketSize: number | undefined;
  const set = (flag: string, v: unknown, key: string) => {
    if (v === "auto" || v === undefined) return;
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new UsageError(
        `llava train: --deepspeed ${file}: ${key} must be a number or "auto", got ${JSON.stringify(v)}`,
        "--deepspeed",
      );
    values[flag] = v;
  };
  for (const [key, v] of flatten(config)) {
    const at = `${key} = ${JSON.stringify(v)}`;
    if (key === "zero_optimization.stage") {
      if (v !== 2)
        warnings.push(`${at}: llava-ts runs ZeRO stage 2 (gradients and optimizer state partitioned)`);
    } else if (
      key === "zero_optimization.reduce_bucket_size" ||
      key === "zero_optimization.allgather_bucket_size"
    ) {
      if (typeof v === "number") bucketSize = Math.max(bucketSize ?? 0, v);
    } else if (MATCHING.has(key)) {
      if (v !== true) warnings.push(`${at}: llava-ts always does this`);
    } else if (key === "gradient_clipping") set("max-grad-norm", v, key);
    else if (key === "train_micro_batch_size_per_gpu") set("per-device-train-batch-size", v, key);
    else if (key === "gradient_accumulation_steps") set("gradient-accumulation-steps", v, key);
    else if (key === "train_batch_size") set("train-batch-size", v, key);
    else if (key === "optimizer.params.lr") set("learning-rate", v, key);
    else if (key === "optimizer.params.eps") set("adam-epsilon", v, key);
    else if (key === "optimizer.params.weight_decay") set("weight-decay", v, key);
    else if (key === "optimizer.params.betas") {
      if (Array.isArray(v)) {
        set("adam-beta1", v[0], `${key}[0]`);
        set("adam-beta2", v[1], `${key}[1]`);
      }
    } else if (key === "optimizer.type") {
      if (!/^adamw?$/i.test(String(v))) warnings.push(`${at}: llava-ts trains with AdamW`);
    } else if (key === "scheduler.params.warmup_num_steps") set("warmup-steps", v, key);
    else if (key === "bf16.enabled" && typeof v === "boolean") switches.bf16 = v;
    else if (key === "fp16.enabled" && v !== false && v !== "auto")
      warnings.push(`${at}: no float16 here (TensorFlow.js computes in float32); --bf16 is what maps`);
    else if (!(key.endsWith(".enabled") && (v === false || v === "auto")) && v !== "auto")
      warnings.push(`${at}: no counterpart in llava-ts, not used`);
  }
  return { values, switches, bucketSize, warnings };
}

/** "a.b.c" → value, for every leaf of the config (arrays are leaves). */
function flatten(o: Json, prefix = ""): [string, unknown][] {
  return Object.entries(o).flatMap(([k, v]) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? flatten(v as Json, `${prefix}${k}.`)
      : [[`${prefix}${k}`, v] as [string, unknown]],
  );
}
