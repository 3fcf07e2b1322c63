// Qwen2Config as transformers' configuration_qwen2.py: HF's snake_case keys, defaults filled here only.
import {
  ACTIVATION_NAMES,
  ConfigError,
  ConfigReader,
  type JsonObject,
  type ModelFolder,
  readFolderJson,
  readJsonFile,
} from "@llava-ts/core";

export interface Qwen2Config {
  readonly model_type: string;
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  /** Grouped-query attention: query heads share these K/V heads (defaults to num_attention_heads). */
  readonly num_key_value_heads: number;
  readonly hidden_act: string;
  readonly max_position_embeddings: number;
  readonly initializer_range: number;
  readonly rms_norm_eps: number;
  readonly rope_theta: number;
  readonly tie_word_embeddings: boolean;
  readonly attention_dropout: number;
  readonly use_cache: boolean;
  readonly bos_token_id?: number;
  readonly eos_token_id?: number | readonly number[];
  readonly pad_token_id?: number;
  readonly torch_dtype?: string;
}

/** Per-head width, derived as HF does (hidden_size / num_attention_heads). */
export function headDim(config: Qwen2Config): number {
  return config.hidden_size / config.num_attention_heads;
}

/** Values an array may hold here (Node's typed arrays, and wasm32's 4 GB heap as float32, stop near it). */
const MAX_ARRAY_VALUES = 2 ** 32;

/**
 * Reads a Qwen2 / Qwen2.5 config.json object; unknown keys are ignored, inconsistent ones rejected. `prefix`
 * names where the object sits in a larger config ("text_config." in a LLaVA's).
 */
export function parseQwen2Config(json: JsonObject, file?: string, prefix = ""): Qwen2Config {
  const r = new ConfigReader(json, file, prefix);
  const modelType = r.string("model_type", "qwen2");
  if (modelType !== "qwen2")
    throw new ConfigError(
      `${prefix}model_type: expected "qwen2", found "${modelType}"`,
      `${prefix}model_type`,
      file,
    );
  const hidden = r.positiveInt("hidden_size", 4096);
  const heads = r.positiveInt("num_attention_heads", 32);
  const kvHeads = r.positiveInt("num_key_value_heads", heads);
  r.divisible("hidden_size", hidden, "num_attention_heads", heads);
  r.divisible("num_attention_heads", heads, "num_key_value_heads", kvHeads);
  if ((hidden / heads) % 2 !== 0)
    throw new ConfigError(
      `${prefix}hidden_size / num_attention_heads = ${hidden / heads} must be even for rotary embeddings`,
      `${prefix}hidden_size`,
      file,
    );
  if (r.has("rope_scaling"))
    throw new ConfigError(
      `${prefix}rope_scaling: ${JSON.stringify(r.json.rope_scaling)} is not supported (only plain RoPE)`,
      `${prefix}rope_scaling`,
      file,
    );
  if (r.boolean("use_sliding_window", false))
    throw new ConfigError(
      `${prefix}use_sliding_window: true is not supported`,
      `${prefix}use_sliding_window`,
      file,
    );
  const vocab = r.positiveInt("vocab_size", 151936);
  if (vocab * hidden >= MAX_ARRAY_VALUES)
    throw new ConfigError(
      `${prefix}vocab_size: ${vocab} × hidden_size ${hidden} = ${vocab * hidden} embedding values, more than an array can hold (2^32)`,
      `${prefix}vocab_size`,
      file,
    );
  return Object.freeze({
    model_type: modelType,
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: r.positiveInt("intermediate_size", 22016),
    num_hidden_layers: r.positiveInt("num_hidden_layers", 32),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    hidden_act: r.oneOf("hidden_act", ACTIVATION_NAMES, "silu"),
    max_position_embeddings: r.positiveInt("max_position_embeddings", 32768),
    initializer_range: r.inRange("initializer_range", 0, Number.MAX_VALUE, 0.02),
    // Validated here rather than met as NaNs in the first forward pass (a negative eps, a zero base).
    rms_norm_eps: r.positive("rms_norm_eps", 1e-6),
    rope_theta: r.positive("rope_theta", 10000),
    tie_word_embeddings: r.boolean("tie_word_embeddings", false),
    attention_dropout: r.inRange("attention_dropout", 0, 1, 0),
    use_cache: r.boolean("use_cache", true),
    bos_token_id: r.tokenId("bos_token_id", vocab),
    eos_token_id: r.tokenIds("eos_token_id", vocab),
    pad_token_id: r.tokenId("pad_token_id", vocab),
    torch_dtype: r.has("torch_dtype") ? r.string("torch_dtype") : undefined,
  });
}

/** Reads and parses config.json of a folder on disk, at a URL or in memory. */
export async function fetchQwen2Config(folder: ModelFolder): Promise<Qwen2Config> {
  return parseQwen2Config(await readFolderJson(folder, "config.json"), folder.describe("config.json"));
}

/** Reads and parses `<dir>/config.json`. */
export function loadQwen2Config(dir: string): Qwen2Config {
  const file = `${dir}/config.json`;
  return parseQwen2Config(readJsonFile(file), file);
}

/** The config as HF writes it to config.json (undefined fields dropped). */
export function qwen2ConfigToJson(config: Qwen2Config): JsonObject {
  const out: JsonObject = { architectures: ["Qwen2ForCausalLM"] };
  for (const [k, v] of Object.entries(config)) if (v !== undefined) out[k] = v;
  return out;
}

/** Number of parameters of Qwen2ForCausalLM, from the config alone (q/k/v biased, lm_head only if untied). */
export function qwen2ParameterCount(config: Qwen2Config): number {
  const { vocab_size: V, hidden_size: H, intermediate_size: I } = config;
  const kv = config.num_key_value_heads * headDim(config);
  const attention = H * H + H + 2 * (H * kv + kv) + H * H;
  const mlp = 3 * H * I;
  const layer = attention + mlp + 2 * H;
  return V * H + config.num_hidden_layers * layer + H + (config.tie_word_embeddings ? 0 : V * H);
}
