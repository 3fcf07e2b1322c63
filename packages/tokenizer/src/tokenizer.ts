// An HF tokenizer folder loaded for llava-ts: encode/decode through @huggingface/tokenizers, chat templates,
// and the surgery LLaVA needs (`<image>` as a new special token, a pad token), saved back as transformers does.

import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { ConfigError } from "@llava-ts/errors";
import type { FolderSource } from "@llava-ts/files";
import {
  type ChatMessage,
  type RenderChatTemplateOptions,
  renderChatTemplate,
  selectChatTemplate,
} from "./chat-template.js";
import {
  type EmbeddingResizeOptions,
  type EmbeddingResizePlan,
  planEmbeddingResize,
} from "./embedding-resize.js";
import { writeTokenizerFiles } from "./save-tokenizer.js";
import { type ChatTemplates, readTokenizerFolder } from "./tokenizer-folder.js";
import {
  type AddedTokenSpec,
  SPECIAL_TOKEN_ROLES,
  type SpecialTokenRole,
  type TokenizerConfig,
  type TokenizerJson,
  tokenContent,
} from "./types.js";

export interface EncodeOptions {
  /** Add the post-processor's special tokens (none for Qwen2). Default true, as in transformers. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  /** Defaults to the config's `clean_up_tokenization_spaces`. */
  cleanUpTokenizationSpaces?: boolean;
}

export interface ApplyChatTemplateOptions extends RenderChatTemplateOptions {
  /** Return token ids (encoded without added special tokens, as transformers does) instead of text. */
  tokenize?: boolean;
  /** A template name from the folder, or a Jinja source to use instead. */
  chatTemplate?: string;
}

export class Tokenizer {
  #json: TokenizerJson;
  #config: TokenizerConfig;
  #chatTemplates: ChatTemplates;
  /** Where each of the folder's templates came from (fromPretrained), named when one fails. */
  #chatTemplateFiles: Record<string, string> = {};
  #hf!: HfTokenizer;
  #length = 0;
  #maxTokenId = -1;
  /** Tokens of the model's own vocabulary, without added tokens (HF `vocab_size`). */
  readonly vocabSize: number;

  constructor(json: TokenizerJson, config: TokenizerConfig = {}, chatTemplates: ChatTemplates = {}) {
    // Copies: surgery edits these, never the caller's objects.
    this.#json = { ...json, added_tokens: json.added_tokens.map((t) => ({ ...t })) };
    this.#config = { ...config };
    for (const role of SPECIAL_TOKEN_ROLES)
      if (role in config) this.#config[role] = tokenContent(config[role]);
    this.#config.additional_special_tokens = Array.isArray(config.additional_special_tokens)
      ? config.additional_special_tokens.map(tokenContent).filter((t): t is string => t !== null)
      : [];
    this.#chatTemplates = { ...chatTemplates };
    const vocab = json.model.vocab as unknown;
    this.vocabSize = Array.isArray(vocab) ? vocab.length : Object.keys(vocab ?? {}).length;
    this.#rebuild();
  }

  /**
   * Loads an HF tokenizer folder (tokenizer.json + tokenizer_config.json, or vocab.json + merges.txt): a
   * path, an http(s) URL, a ModelFolder, or files in memory (`{ "tokenizer.json": blob, … }`).
   */
  static async fromPretrained(source: FolderSource): Promise<Tokenizer> {
    const folder = await readTokenizerFolder(source);
    const tokenizer = new Tokenizer(folder.json, folder.config, folder.chatTemplates);
    tokenizer.#chatTemplateFiles = folder.chatTemplateFiles;
    return tokenizer;
  }

  // @huggingface/tokenizers fixes its added tokens at construction, so surgery builds a new one.
  #rebuild(): void {
    this.#hf = new HfTokenizer(this.#json, this.#config);
    const vocab = this.#hf.get_vocab(true);
    this.#length = vocab.size;
    this.#maxTokenId = Math.max(-1, ...this.#json.added_tokens.map((t) => t.id), this.vocabSize - 1);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.#hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** The token strings `encode` would produce (byte-level symbols for Qwen2). */
  tokenize(text: string): string[] {
    return this.#hf.tokenize(text);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return "";
    for (const id of ids)
      if (this.idToToken(id) === undefined) throw new ConfigError(`token id ${id} is not in the vocabulary`);
    return this.#hf.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces ?? null,
    });
  }

  tokenToId(token: string): number | undefined {
    return this.#hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.#hf.id_to_token(id);
  }

  /** `len(tokenizer)` in transformers: the model vocabulary plus the added tokens. */
  get length(): number {
    return this.#length;
  }

  /** The largest token id; embeddings need at least maxTokenId + 1 rows. */
  get maxTokenId(): number {
    return this.#maxTokenId;
  }

  /** tokenizer.json's added tokens, by id (copies). */
  get addedTokens(): AddedTokenSpec[] {
    return this.#json.added_tokens.map((t) => ({ ...t }));
  }

  get additionalSpecialTokens(): string[] {
    return [...(this.#config.additional_special_tokens as string[])];
  }

  /**
   * Adds tokens to the vocabulary and returns their ids, in order. A token already present keeps its id
   * (and becomes special when asked). New ids follow the largest id in use: Qwen2.5's `<image>` → 151665.
   */
  addTokens(tokens: readonly string[], options: { special?: boolean } = {}): number[] {
    const special = options.special ?? false;
    const additional = this.#config.additional_special_tokens as string[];
    const ids = tokens.map((content) => {
      if (typeof content !== "string" || content.length === 0)
        throw new ConfigError(`tokens to add must be non-empty strings, found ${JSON.stringify(content)}`);
      const added = this.#json.added_tokens.find((t) => t.content === content);
      const id = added?.id ?? this.tokenToId(content) ?? Math.max(this.#maxTokenId + 1, this.vocabSize);
      if (added) added.special ||= special;
      else
        this.#json.added_tokens.push({
          id,
          content,
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: !special,
          special,
        });
      this.#maxTokenId = Math.max(this.#maxTokenId, id);
      if (
        special &&
        !additional.includes(content) &&
        !SPECIAL_TOKEN_ROLES.some((r) => this.#config[r] === content)
      )
        additional.push(content);
      return id;
    });
    this.#json.added_tokens.sort((a, b) => a.id - b.id);
    this.#rebuild();
    return ids;
  }

  /** transformers' `add_special_tokens({"additional_special_tokens": tokens}, replace_additional_special_tokens=False)`. */
  addSpecialTokens(tokens: readonly string[]): number[] {
    return this.addTokens(tokens, { special: true });
  }

  /** The token playing a role (`eos_token`, `pad_token`, ...), or null when the config has none. */
  specialToken(role: SpecialTokenRole): string | null {
    return (this.#config[role] as string | null | undefined) ?? null;
  }

  specialTokenId(role: SpecialTokenRole): number | null {
    const token = this.specialToken(role);
    return token === null ? null : (this.tokenToId(token) ?? null);
  }

  /** Gives a role to a token of the vocabulary (add new tokens with addSpecialTokens first); null clears it. */
  setSpecialToken(role: SpecialTokenRole, token: string | null): void {
    if (token !== null && this.tokenToId(token) === undefined)
      throw new ConfigError(
        `${role} "${token}" is not in the vocabulary; add it with addSpecialTokens first`,
        role,
      );
    // Only additional_special_tokens reach @huggingface/tokenizers, so no rebuild is needed.
    this.#config[role] = token;
  }

  get padToken(): string | null {
    return this.specialToken("pad_token");
  }
  set padToken(token: string | null) {
    this.setSpecialToken("pad_token", token);
  }
  get padTokenId(): number | null {
    return this.specialTokenId("pad_token");
  }
  get eosToken(): string | null {
    return this.specialToken("eos_token");
  }
  set eosToken(token: string | null) {
    this.setSpecialToken("eos_token", token);
  }
  get eosTokenId(): number | null {
    return this.specialTokenId("eos_token");
  }
  get bosTokenId(): number | null {
    return this.specialTokenId("bos_token");
  }

  /**
   * tokenizer_config.json's `model_max_length` (Qwen2.5: 131072), or undefined when it is absent or HF's
   * "no limit" placeholder (VERY_LARGE_INTEGER, 1e30).
   */
  get modelMaxLength(): number | undefined {
    const v = this.#config.model_max_length;
    return typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined;
  }

  /** The Jinja source of a chat template ("default" when the folder has one), or undefined. */
  getChatTemplate(name = "default"): string | undefined {
    return this.#chatTemplates[name];
  }

  /** Names of the chat templates found in the folder ("default" for a single one). */
  get chatTemplateNames(): string[] {
    return Object.keys(this.#chatTemplates);
  }

  applyChatTemplate(
    messages: readonly ChatMessage[],
    options: ApplyChatTemplateOptions & { tokenize: true },
  ): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options?: ApplyChatTemplateOptions): string;
  applyChatTemplate(
    messages: readonly ChatMessage[],
    options: ApplyChatTemplateOptions = {},
  ): string | number[] {
    const source = selectChatTemplate(this.#chatTemplates, options.chatTemplate);
    let text: string;
    try {
      text = renderChatTemplate(source, messages, this.#templateTokens(), options);
    } catch (err) {
      // A folder's template that fails names its file (a template passed as source has none).
      const name = Object.keys(this.#chatTemplates).find((n) => this.#chatTemplates[n] === source);
      const file = name === undefined ? undefined : this.#chatTemplateFiles[name];
      if (err instanceof ConfigError && !err.file && file) throw new ConfigError(err.message, err.key, file);
      throw err;
    }
    return options.tokenize ? this.encode(text, { addSpecialTokens: false }) : text;
  }

  // transformers passes `**self.special_tokens_map` to the template: roles as strings, plus the extra list.
  #templateTokens(): Record<string, unknown> {
    const vars: Record<string, unknown> = { additional_special_tokens: this.additionalSpecialTokens };
    for (const role of SPECIAL_TOKEN_ROLES) {
      const token = this.specialToken(role);
      if (token !== null) vars[role] = token;
    }
    return vars;
  }

  /** Whether the embedding matrix (currentRows rows) must grow to hold every token id. */
  planEmbeddingResize(currentRows: number, options?: EmbeddingResizeOptions): EmbeddingResizePlan {
    return planEmbeddingResize(this.#maxTokenId, currentRows, options);
  }

  /**
   * Writes tokenizer.json, tokenizer_config.json, special_tokens_map.json, added_tokens.json (and vocab.json +
   * merges.txt for BPE models) in transformers 4.46's layout, so `AutoTokenizer.from_pretrained(dir)` loads it.
   */
  async save(dir: string): Promise<string[]> {
    return writeTokenizerFiles(dir, {
      json: this.#json,
      config: this.#config,
      chatTemplates: this.#chatTemplates,
      vocabSize: this.vocabSize,
    });
  }
}
