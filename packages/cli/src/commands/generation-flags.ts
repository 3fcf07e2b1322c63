// The decoding flags infer, chat and eval share, with HF generate()'s names and defaults.
import type { Flags, FlagTable } from "../args.js";
import type { GenerationSettings } from "../llava-session.js";

export function generationFlags(maxNewTokens: number): FlagTable {
  return {
    "max-new-tokens": {
      type: "string",
      value: "N",
      help: "longest answer in tokens",
      default: String(maxNewTokens),
    },
    "do-sample": { type: "boolean", help: "sample instead of greedy decoding" },
    temperature: {
      type: "string",
      value: "T",
      help: "sampling temperature (with --do-sample)",
      default: "1",
    },
    "top-k": { type: "string", value: "K", help: "keep the K most likely tokens (0 = off)", default: "50" },
    "top-p": {
      type: "string",
      value: "P",
      help: "nucleus sampling: keep the tokens of mass P",
      default: "1",
    },
    "repetition-penalty": {
      type: "string",
      value: "X",
      help: "HF's repetition_penalty (1 = off)",
      default: "1",
    },
    seed: { type: "string", value: "N", help: "seed of the sampler (same seed, same answers)" },
  };
}

export function generationSettings(f: Flags): GenerationSettings {
  return {
    maxNewTokens: f.int("max-new-tokens"),
    doSample: f.boolean("do-sample"),
    temperature: f.number("temperature"),
    topK: f.int("top-k", 0),
    topP: f.number("top-p"),
    repetitionPenalty: f.number("repetition-penalty"),
    seed: f.int("seed", 0),
  };
}
