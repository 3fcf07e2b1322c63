// PEFT's LoraConfig (peft/tuners/lora/config.py, 0.13): the same snake_case keys and defaults, parsed from
// and written to adapter_config.json. Features we do not implement are rejected, never silently ignored.
import { ConfigError, type JsonObject, readJsonFile } from "@llava-ts/core";

/** true: kaiming-uniform A, zero B (PEFT's default); false: torch Linear init for both; "gaussian": N(0, 1/r) A. */
export type InitLoraWeights = boolean | "gaussian";

export interface LoraConfig {
  readonly peft_type: "LORA";
  readonly r: number;
  readonly lora_alpha: number;
  readonly lora_dropout: number;
  /** A list matches module-name suffixes at a dot; a string is a full-match regex; null = PEFT's default. */
  readonly target_modules: readonly string[] | string | null;
  readonly modules_to_save: readonly string[] | null;
  readonly bias: "none";
  readonly task_type: string | null;
  readonly base_model_name_or_path: string | null;
  readonly revision: string | null;
  readonly init_lora_weights: InitLoraWeights;
  readonly use_rslora: boolean;
  readonly fan_in_fan_out: false;
  readonly inference_mode: boolean;
  /** Per-module overrides: a key matches a name ending in ".key" (or equal to it), as PEFT's regex. */
  readonly rank_pattern: Readonly<Record<string, number>>;
  readonly alpha_pattern: Readonly<Record<string, number>>;
}

export type LoraConfigInput = Partial<Omit<LoraConfig, "peft_type">> & { peft_type?: string };

/** PEFT's defaults for LoRA (r 8, alpha 8, no dropout, bias "none", kaiming init). */
export const LORA_DEFAULTS: LoraConfig = {
  peft_type: "LORA",
  r: 8,
  lora_alpha: 8,
  lora_dropout: 0,
  target_modules: null,
  modules_to_save: null,
  bias: "none",
  task_type: null,
  base_model_name_or_path: null,
  revision: null,
  init_lora_weights: true,
  use_rslora: false,
  fan_in_fan_out: false,
  inference_mode: false,
  rank_pattern: {},
  alpha_pattern: {},
};

/** Keys PEFT writes that we accept only at their "off" value (the feature is not implemented). */
const OFF_ONLY: Record<string, unknown> = {
  use_dora: false,
  layers_to_transform: null,
  layers_pattern: null,
  layer_replication: null,
  loftq_config: {},
  megatron_config: null,
};
/** Written by PEFT, carry no meaning for us. */
const IGNORED = new Set(["auto_mapping", "megatron_core"]);

/** Fills PEFT's defaults and checks every value (same rules as parsing a file). */
export function loraConfig(input: LoraConfigInput = {}): LoraConfig {
  return parseLoraConfig({ ...LORA_DEFAULTS, ...input } as JsonObject);
}

/** Parses an adapter_config.json object; `file` is named in every error. */
export function parseLoraConfig(json: JsonObject, file?: string): LoraConfig {
  const fail = (key: string, msg: string): never => {
    throw new ConfigError(`${key}: ${msg}`, key, file);
  };
  const get = <T>(key: keyof LoraConfig): T => (json[key] ?? LORA_DEFAULTS[key]) as T;
  const peftType = json.peft_type ?? "LORA";
  if (peftType !== "LORA")
    fail(
      "peft_type",
      `unsupported adapter type ${JSON.stringify(peftType)}; only "LORA" adapters can be loaded`,
    );
  for (const [key, off] of Object.entries(OFF_ONLY)) {
    const v = json[key];
    if (v !== undefined && v !== null && JSON.stringify(v) !== JSON.stringify(off))
      fail(key, `${JSON.stringify(v)} is not supported (only ${JSON.stringify(off)})`);
  }
  for (const [key, v] of Object.entries(json)) {
    if (key in LORA_DEFAULTS || key in OFF_ONLY || IGNORED.has(key)) continue;
    // Keys from other PEFT versions are fine while they are off; anything switched on is refused.
    if (v !== null && v !== false && !(typeof v === "object" && Object.keys(v).length === 0))
      fail(key, `unknown or unsupported key with value ${JSON.stringify(v)}`);
  }

  const r = get<number>("r");
  if (!Number.isInteger(r) || r <= 0) fail("r", `expected a positive integer, found ${JSON.stringify(r)}`);
  const alpha = get<number>("lora_alpha");
  if (typeof alpha !== "number" || !Number.isFinite(alpha))
    fail("lora_alpha", `expected a number, found ${alpha}`);
  const dropout = get<number>("lora_dropout");
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1))
    fail("lora_dropout", `expected a number in [0, 1), found ${JSON.stringify(dropout)}`);
  const bias = get<string>("bias");
  if (bias !== "none")
    fail(
      "bias",
      `${JSON.stringify(bias)} is not supported; only "none" (biases stay frozen and are not saved)`,
    );
  if (get<boolean>("fan_in_fan_out") !== false)
    fail(
      "fan_in_fan_out",
      "true is for GPT-2's Conv1D layers; llava-ts linears are [out, in], so it must be false",
    );
  const init = get<InitLoraWeights>("init_lora_weights");
  if (init !== true && init !== false && init !== "gaussian")
    fail("init_lora_weights", `${JSON.stringify(init)} is not supported (true, false or "gaussian")`);

  const target = get<unknown>("target_modules");
  if (target !== null && typeof target !== "string" && !isStringList(target))
    fail("target_modules", `expected a list of names or a regex string, found ${JSON.stringify(target)}`);
  if (typeof target === "string") checkRegex(target, fail);
  const mts = get<unknown>("modules_to_save");
  if (mts !== null && !isStringList(mts))
    fail("modules_to_save", `expected a list of names, found ${JSON.stringify(mts)}`);

  return {
    peft_type: "LORA",
    r,
    lora_alpha: alpha,
    lora_dropout: dropout,
    target_modules: isStringList(target) ? [...new Set(target)] : (target as string | null),
    modules_to_save: mts === null ? null : [...(mts as string[])],
    bias: "none",
    task_type: optionalString(json, "task_type", fail),
    base_model_name_or_path: optionalString(json, "base_model_name_or_path", fail),
    revision: optionalString(json, "revision", fail),
    init_lora_weights: init,
    use_rslora: booleanKey(json, "use_rslora", fail),
    fan_in_fan_out: false,
    inference_mode: booleanKey(json, "inference_mode", fail),
    rank_pattern: numberRecord(json, "rank_pattern", fail),
    alpha_pattern: numberRecord(json, "alpha_pattern", fail),
  };
}

/** Reads and parses `<dir>/adapter_config.json` (or a path to the file itself). */
export function readLoraConfig(path: string): LoraConfig {
  return parseLoraConfig(readJsonFile(path), path);
}

/** alpha / r, or alpha / √r with use_rslora (PEFT's LoraLayer.update_layer). */
export function loraScaling(config: Pick<LoraConfig, "use_rslora">, r: number, alpha: number): number {
  return config.use_rslora ? alpha / Math.sqrt(r) : alpha / r;
}

function isStringList(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === "string");
}

function checkRegex(source: string, fail: (k: string, m: string) => never): void {
  try {
    new RegExp(source);
  } catch (e) {
    fail("target_modules", `not a valid regex: ${(e as Error).message}`);
  }
}

function optionalString(json: JsonObject, key: string, fail: (k: string, m: string) => never): string | null {
  const v = json[key] ?? null;
  if (v !== null && typeof v !== "string") fail(key, `expected a string or null, found ${JSON.stringify(v)}`);
  return v as string | null;
}

function booleanKey(json: JsonObject, key: keyof LoraConfig, fail: (k: string, m: string) => never): boolean {
  const v = json[key] ?? LORA_DEFAULTS[key];
  if (typeof v !== "boolean") fail(key, `expected true or false, found ${JSON.stringify(v)}`);
  return v as boolean;
}

function numberRecord(
  json: JsonObject,
  key: string,
  fail: (k: string, m: string) => never,
): Record<string, number> {
  const v = json[key] ?? {};
  if (
    typeof v !== "object" ||
    Array.isArray(v) ||
    Object.values(v as object).some((n) => typeof n !== "number")
  )
    fail(key, `expected an object of numbers, found ${JSON.stringify(v)}`);
  return { ...(v as Record<string, number>) };
}
