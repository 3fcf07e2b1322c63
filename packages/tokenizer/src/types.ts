// Shapes of the HF tokenizer files this package reads and writes (snake_case keys as HF writes them).

/** One entry of tokenizer.json's `added_tokens` (and, without `id`, of `added_tokens_decoder`). */
export interface AddedTokenSpec {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** tokenizer.json: only the parts we touch are typed; the rest is carried through unchanged. */
export interface TokenizerJson {
  added_tokens: AddedTokenSpec[];
  normalizer: unknown;
  pre_tokenizer: unknown;
  post_processor: unknown;
  decoder: unknown;
  model: { type: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] } & Record<
    string,
    unknown
  >;
  [key: string]: unknown;
}

/** tokenizer_config.json; special tokens may be strings, AddedToken dicts or null. */
export type TokenizerConfig = Record<string, unknown>;

/** The special-token roles transformers knows (`SPECIAL_TOKENS_ATTRIBUTES` minus the additional list). */
export const SPECIAL_TOKEN_ROLES = [
  "bos_token",
  "eos_token",
  "unk_token",
  "sep_token",
  "pad_token",
  "cls_token",
  "mask_token",
] as const;
export type SpecialTokenRole = (typeof SPECIAL_TOKEN_ROLES)[number];

/** A token given as a string or as transformers' AddedToken dict → its content. */
export function tokenContent(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { content?: unknown }).content === "string")
    return (value as { content: string }).content;
  return null;
}
