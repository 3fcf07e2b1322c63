// Autoregressive decoding with a KV cache, as transformers' GenerationMixin._sample: prefill the prompt,
// then one position per step; finished rows keep running but emit padTokenId.
// Shape legend: B batch, T prompt length, S positions so far, V vocabulary.

import { ConfigError, type Module, Rng, ShapeError } from "@llava-ts/core";
import type * as tf from "@tensorflow/tfjs-core";
import type { Qwen2Config } from "./config.js";
import { type IntInput, intArray, intShape, positionIdsFromMask } from "./inputs.js";
import { KVCache } from "./kv-cache.js";
import { checkSamplingOptions, nextToken, type SamplingOptions } from "./logits-processors.js";
import type { Qwen2ModelInput } from "./model.js";

export interface GenerateOptions {
  /** [B, T], 1 = token, 0 = padding (left padding for batched prompts, as HF expects). */
  attentionMask?: IntInput;
  /** [B, T, E] embeddings of the prompt used for the first step instead of looking up inputIds (LLaVA). */
  inputsEmbeds?: tf.Tensor;
  /** Default 20. */
  maxNewTokens?: number;
  /** A row stops after emitting one of these; default the config's eos_token_id; [] never stops. */
  eosTokenId?: number | readonly number[];
  /** Emitted by finished rows; default the config's pad_token_id, else the first eos id (as HF). */
  padTokenId?: number;
  /** false (default) = greedy. */
  doSample?: boolean;
  /** HF defaults: temperature 1, topK 50 (0 = off), topP 1. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** HF's repetition_penalty over every token in the sequence so far (prompt included); 1 = off. */
  repetitionPenalty?: number;
  /** Seed of the sampling RNG; omitted = a random seed. */
  seed?: number;
  /** Called with each step's tokens as soon as they are chosen. */
  onToken?: (step: GenerateStep) => void;
}

export interface GenerateStep {
  /** 0-based index of the new token. */
  step: number;
  /** One token per row (padTokenId for rows that had already finished). */
  tokens: number[];
  /** Rows finished after this step (emitted an eos now or earlier). */
  finished: boolean[];
}

export interface GenerateOutput {
  /** Prompt + new tokens per row, as HF's output ids. */
  sequences: number[][];
  /** New tokens only. */
  newTokens: number[][];
}

/** What generation needs from a causal LM (Qwen2ForCausalLM, or a LLaVA wrapper with the same forward). */
export interface CausalLM extends Module {
  readonly config: Qwen2Config;
  forward(input: Qwen2ModelInput & { logitsMode?: "last" }): { logits: tf.Tensor };
}

export async function* generateStream(
  model: CausalLM,
  inputIds: IntInput,
  options: GenerateOptions = {},
): AsyncGenerator<GenerateStep> {
  const [B, T] = intShape(inputIds, "inputIds");
  const ids = intArray(inputIds, B, T, "inputIds");
  const V = model.config.vocab_size;
  const maxNewTokens = options.maxNewTokens ?? 20;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0)
    throw new ConfigError(
      `maxNewTokens must be a non-negative integer, found ${maxNewTokens}`,
      "max_new_tokens",
    );
  const eosOption = options.eosTokenId ?? model.config.eos_token_id ?? [];
  const eos = new Set(typeof eosOption === "number" ? [eosOption] : eosOption);
  const pad = options.padTokenId ?? model.config.pad_token_id ?? [...eos][0] ?? 0;
  const sampling: SamplingOptions = {
    doSample: options.doSample ?? false,
    temperature: options.temperature ?? 1,
    topK: options.topK ?? 50,
    topP: options.topP ?? 1,
    repetitionPenalty: options.repetitionPenalty ?? 1,
  };
  checkSamplingOptions(sampling);
  if (options.inputsEmbeds && (options.inputsEmbeds.shape[0] !== B || options.inputsEmbeds.shape[1] !== T))
    throw new ShapeError(
      `generate: inputsEmbeds [${options.inputsEmbeds.shape}] does not match inputIds [${B}, ${T}]`,
      [B, T, "E"],
      options.inputsEmbeds.shape,
    );
  const rng = new Rng(options.seed ?? Math.floor(Math.random() * 2 ** 32));

  // Per row: every token so far (for the penalty) and the attention mask, both growing by one per step.
  const rows = Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)));
  const prompt =
    options.attentionMask === undefined ? undefined : intArray(options.attentionMask, B, T, "attentionMask");
  const masks = Array.from({ length: B }, (_, b) =>
    prompt ? Array.from(prompt.subarray(b * T, (b + 1) * T)) : new Array(T).fill(1),
  );
  const finished = new Array<boolean>(B).fill(false);
  const cache = new KVCache(model.config.num_hidden_layers);
  try {
    for (let step = 0; step < maxNewTokens; step++) {
      const S = T + step;
      const mask = masks.flat(); // [B, S]
      const input: Qwen2ModelInput = {
        attentionMask: mask,
        positionIds: positionIdsFromMask(mask, B, S, step === 0 ? T : 1), // [B, T] then [B, 1]
        cache,
      };
      if (step > 0)
        input.inputIds = rows.map((r) => [r[r.length - 1]]); // [B, 1]
      else if (options.inputsEmbeds) input.inputsEmbeds = options.inputsEmbeds;
      else input.inputIds = rows;
      const { logits } = model.forward({ ...input, logitsMode: "last" }); // [B, 1, V]
      let data: Float32Array;
      try {
        data = (await logits.data()) as Float32Array;
      } finally {
        logits.dispose();
      }
      const tokens = rows.map((row, b) => {
        if (finished[b]) return pad;
        const token = nextToken(data.slice(b * V, (b + 1) * V), row, sampling, rng);
        if (eos.has(token)) finished[b] = true;
        return token;
      });
      for (const [b, t] of tokens.entries()) {
        rows[b].push(t);
        masks[b].push(1);
      }
      yield { step, tokens, finished: [...finished] };
      if (finished.every(Boolean)) break;
    }
  } finally {
    cache.dispose();
  }
}

/** Runs generateStream to the end; calls `onToken` per step; returns the prompt + new tokens per row. */
export async function generate(
  model: CausalLM,
  inputIds: IntInput,
  options: GenerateOptions = {},
): Promise<GenerateOutput> {
  const [B, T] = intShape(inputIds, "inputIds");
  const ids = intArray(inputIds, B, T, "inputIds");
  const newTokens: number[][] = Array.from({ length: B }, () => []);
  for await (const step of generateStream(model, inputIds, options)) {
    for (const [b, t] of step.tokens.entries()) newTokens[b].push(t);
    options.onToken?.(step);
  }
  const sequences = newTokens.map((toks, b) => [...ids.subarray(b * T, (b + 1) * T), ...toks]);
  return { sequences, newTokens };
}
