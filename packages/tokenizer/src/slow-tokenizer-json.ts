// Builds a tokenizer.json from the "slow" files (vocab.json + merges.txt) that transformers writes when it
// saves a slow tokenizer, as the fixture `tokenizer-with-image/` shows. Mirrors what transformers'
// convert_slow_tokenizer.py does for the byte-level BPE classes (Qwen2Converter, GPT2Converter).

import { ConfigError } from "@llava-ts/errors";
import type { AddedTokenSpec, TokenizerJson } from "./types.js";

// Qwen2Tokenizer.PRETOKENIZE_REGEX (tokenization_qwen2.py).
const QWEN2_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const byteLevel = (addPrefixSpace: boolean, useRegex: boolean) => ({
  type: "ByteLevel",
  add_prefix_space: addPrefixSpace,
  trim_offsets: false,
  use_regex: useRegex,
});

/** `merges.txt` lines → merge pairs; the `#version` header and blank lines are dropped. */
export function parseMerges(text: string): string[] {
  return text.split("\n").filter((line, i) => line.length > 0 && !(i === 0 && line.startsWith("#version")));
}

export function slowTokenizerJson(
  tokenizerClass: string,
  vocab: Record<string, number>,
  merges: string[],
  addedTokens: AddedTokenSpec[],
  addPrefixSpace: boolean,
): TokenizerJson {
  const model = {
    type: "BPE",
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: "",
    end_of_word_suffix: "",
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab,
    merges,
  };
  const base = { version: "1.0", truncation: null, padding: null, added_tokens: addedTokens };
  switch (tokenizerClass.replace(/Fast$/, "")) {
    case "Qwen2Tokenizer":
      return {
        ...base,
        normalizer: { type: "NFC" },
        pre_tokenizer: {
          type: "Sequence",
          pretokenizers: [
            { type: "Split", pattern: { Regex: QWEN2_PATTERN }, behavior: "Isolated", invert: false },
            byteLevel(false, false),
          ],
        },
        post_processor: byteLevel(false, false),
        decoder: byteLevel(false, false),
        model,
      };
    case "GPT2Tokenizer":
      return {
        ...base,
        normalizer: null,
        pre_tokenizer: byteLevel(addPrefixSpace, true),
        post_processor: byteLevel(addPrefixSpace, true),
        decoder: byteLevel(addPrefixSpace, true),
        model,
      };
    default:
      throw new ConfigError(
        `tokenizer.json is missing and a "${tokenizerClass}" cannot be rebuilt from vocab.json + merges.txt ` +
          "(only Qwen2Tokenizer and GPT2Tokenizer can); save the tokenizer with its tokenizer.json",
        "tokenizer_class",
      );
  }
}
