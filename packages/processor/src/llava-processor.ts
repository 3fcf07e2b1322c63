// Turns LLaVA conversations into token ids and labels: the chat template renders the text, `<image>` becomes
// imageSeqLength image tokens, and only assistant answers (content + `<|im_end|>`) are trained.
// Follows transformers' LlavaProcessor for the expansion and the reference tutorial for the labels.

import { ConfigError, IGNORE_INDEX, LlavaError } from "@llava-ts/core";
import type { Tokenizer } from "@llava-ts/tokenizer";
import type { ClipImageProcessor } from "./clip-image-processor.js";
import {
  type ChatTurn,
  checkImageTokens,
  countOccurrences,
  dataError,
  type LlavaTurn,
  type RecordContext,
  splitSystem,
  toChatTurns,
} from "./llava-conversation.js";

// index.ts re-exports this file only, so the conversation types a caller needs are re-exported here.
export type { ChatRole, ChatTurn, LlavaTurn, RecordContext } from "./llava-conversation.js";

export type SampleMode = "single_turn" | "multi_turn";

export interface LlavaProcessorOptions {
  /** The placeholder in the text; the tokenizer must know it as one token (default "<image>"). */
  imageToken?: string;
  /** Image tokens per image: (336 / 14)² = 576 for CLIP-336 with strategy "default". */
  imageSeqLength?: number;
  /** System turn used when a conversation has none; null leaves it to the chat template. */
  systemPrompt?: string | null;
  imageProcessor?: ClipImageProcessor;
  /**
   * Training samples longer than this are cut to it, as HF's `truncation=True, max_length=model_max_length`
   * (the sample says so in `truncatedFrom`); default the tokenizer's `model_max_length`.
   */
  modelMaxLength?: number;
  /** processor_config.json spellings, accepted so a parsed config can be passed as is. */
  image_token?: string;
  image_seq_length?: number;
}

export interface TrainingSampleOptions extends RecordContext {
  /** "single_turn": the tutorial's recipe on the first exchange; "multi_turn": every answer. */
  mode: SampleMode;
  /** Images that come with the record; that many `<image>` placeholders are required (default 1). */
  numImages?: number;
}

export interface LlavaSample {
  inputIds: number[];
  /** inputIds where trained, IGNORE_INDEX elsewhere. */
  labels: number[];
  /** The length before truncation to modelMaxLength, when the sample was cut. */
  truncatedFrom?: number;
}

export interface PromptOptions extends RecordContext {
  numImages?: number;
  systemPrompt?: string | null;
}

export interface LlavaPrompt {
  text: string;
  inputIds: number[];
}

export class LlavaProcessor {
  readonly imageToken: string;
  readonly imageTokenId: number;
  readonly imageSeqLength: number;
  readonly systemPrompt: string | null;
  readonly imageProcessor?: ClipImageProcessor;
  readonly modelMaxLength?: number;
  readonly #eosTokenId: number;

  constructor(
    readonly tokenizer: Tokenizer,
    options: LlavaProcessorOptions = {},
  ) {
    this.imageToken = options.imageToken ?? options.image_token ?? "<image>";
    this.imageSeqLength = options.imageSeqLength ?? options.image_seq_length ?? 576;
    this.systemPrompt =
      options.systemPrompt === undefined ? "You are a helpful assistant." : options.systemPrompt;
    this.imageProcessor = options.imageProcessor;
    this.modelMaxLength = options.modelMaxLength ?? tokenizer.modelMaxLength;
    if (
      this.modelMaxLength !== undefined &&
      !(Number.isSafeInteger(this.modelMaxLength) && this.modelMaxLength > 0)
    )
      throw new ConfigError(
        `modelMaxLength must be a positive integer, found ${this.modelMaxLength}`,
        "model_max_length",
      );
    if (!Number.isInteger(this.imageSeqLength) || this.imageSeqLength < 1)
      throw new ConfigError(
        `imageSeqLength must be a positive integer, found ${this.imageSeqLength}`,
        "image_seq_length",
      );
    const ids = tokenizer.encode(this.imageToken, { addSpecialTokens: false });
    const id = tokenizer.tokenToId(this.imageToken);
    if (id === undefined || ids.length !== 1 || ids[0] !== id)
      throw new ConfigError(
        `the tokenizer does not encode ${this.imageToken} as one token (got [${ids}]); ` +
          `add it first: tokenizer.addSpecialTokens(["${this.imageToken}"])`,
        "image_token",
      );
    this.imageTokenId = id;
    const eos = tokenizer.eosTokenId;
    if (eos === null)
      throw new ConfigError("the tokenizer has no eos_token to end answers with", "eos_token");
    this.#eosTokenId = eos;
  }

  /** Each image token id → imageSeqLength copies (the projector's features are scattered there). */
  expandImageTokens(ids: readonly number[]): number[] {
    const out: number[] = [];
    for (const id of ids) {
      if (id === this.imageTokenId) for (let i = 0; i < this.imageSeqLength; i++) out.push(id);
      else out.push(id);
    }
    return out;
  }

  /** Input ids and labels for one record, cut to modelMaxLength; the conversation is not modified. */
  buildTrainingSample(conversations: readonly LlavaTurn[], options: TrainingSampleOptions): LlavaSample {
    return this.#truncate(this.#buildFull(conversations, options), options);
  }

  /**
   * HF's right truncation to modelMaxLength. A cut that would leave part of an image's tokens (the features
   * could not be placed) or no trained token at all makes the record unusable: a DataError, "too_long".
   */
  #truncate(sample: LlavaSample, ctx: RecordContext): LlavaSample {
    const max = this.modelMaxLength;
    const length = sample.inputIds.length;
    if (max === undefined || length <= max) return sample;
    const cutImage = sample.inputIds.indexOf(this.imageTokenId, max);
    if (cutImage >= 0)
      throw dataError(
        ctx,
        `the sample is ${length} tokens and its image tokens run past position ${max} (model_max_length): the image cannot be kept`,
        "too_long",
      );
    const labels = sample.labels.slice(0, max);
    if (labels.every((y) => y === IGNORE_INDEX))
      throw dataError(
        ctx,
        `the sample is ${length} tokens and no answer token is left within the first ${max} (model_max_length)`,
        "too_long",
      );
    return { inputIds: sample.inputIds.slice(0, max), labels, truncatedFrom: length };
  }

  #buildFull(conversations: readonly LlavaTurn[], options: TrainingSampleOptions): LlavaSample {
    const { mode } = options;
    const turns = toChatTurns(conversations, options);
    const { system, dialogue } = splitSystem(turns, options);
    const numImages = options.numImages ?? 1;
    if (dialogue.length < 2)
      throw dataError(
        options,
        "conversation has no gpt turn after the human turn: nothing to train on",
        "no_answer",
      );
    const systemTurns = this.#systemTurns(system);
    if (mode === "single_turn") {
      const [user, answer] = dialogue;
      // The record's own turns, so errors give the turn's index in the record.
      checkImageTokens(
        turns.slice(0, turns.length - dialogue.length + 2),
        this.imageToken,
        numImages,
        options,
      );
      return this.#singleTurn([...systemTurns, user], answer.content, options);
    }
    if (mode !== "multi_turn")
      throw new ConfigError(`unknown sample mode "${mode}" (single_turn or multi_turn)`);
    if (dialogue.length % 2 !== 0)
      throw dataError(options, "conversation ends with a human turn that has no answer", "no_answer");
    checkImageTokens(turns, this.imageToken, numImages, options);
    return this.#multiTurn([...systemTurns, ...dialogue], options);
  }

  /** The inference prompt: system + user turn(s) with the image, then the generation prompt. */
  buildPrompt(input: string | readonly LlavaTurn[], options: PromptOptions = {}): LlavaPrompt {
    const numImages = options.numImages ?? 1;
    let messages: ChatTurn[];
    let turns: ChatTurn[];
    if (typeof input === "string") {
      // A bare question gets its image in front, as LLaVA's own prompts put it ("<image>\nQuestion").
      const content = input.includes(this.imageToken)
        ? input
        : `${this.imageToken}\n`.repeat(numImages) + input;
      turns = [{ role: "user", content }];
      messages = [...this.#systemTurns(undefined, options.systemPrompt), ...turns];
    } else {
      turns = toChatTurns(input, options);
      const { system, dialogue } = splitSystem(turns, options);
      if (dialogue.length % 2 === 0)
        throw dataError(options, "a prompt must end with a human turn", "bad_turn_order");
      messages = [...this.#systemTurns(system, options.systemPrompt), ...dialogue];
    }
    checkImageTokens(turns, this.imageToken, numImages, options);
    const text = this.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    return { text, inputIds: this.#encode(text) };
  }

  #systemTurns(fromRecord: string | undefined, override?: string | null): ChatTurn[] {
    const content = fromRecord ?? (override === undefined ? this.systemPrompt : override);
    return content === null ? [] : [{ role: "system", content }];
  }

  // Encodes without special tokens (the template wrote them) and expands the image tokens.
  #encode(text: string): number[] {
    const ids = this.tokenizer.encode(text, { addSpecialTokens: false });
    const expected = countOccurrences(text, this.imageToken);
    const found = ids.filter((id) => id === this.imageTokenId).length;
    if (found !== expected)
      throw new LlavaError(`${expected} ${this.imageToken} in the text became ${found} image token(s)`);
    return this.expandImageTokens(ids);
  }

  // The tutorial: template(system + user, generation prompt) → -100; then answer + eos, trained.
  #singleTurn(prompt: ChatTurn[], answer: string, ctx: RecordContext): LlavaSample {
    if (answer.length === 0) throw dataError(ctx, "the gpt answer is empty", "empty_answer");
    const text = this.tokenizer.applyChatTemplate(prompt, { addGenerationPrompt: true });
    const promptIds = this.#encode(text);
    const answerIds = [...this.tokenizer.encode(answer, { addSpecialTokens: false }), this.#eosTokenId];
    return {
      inputIds: [...promptIds, ...answerIds],
      labels: [...promptIds.map(() => IGNORE_INDEX), ...answerIds],
    };
  }

  // Renders growing prefixes of the conversation: the text an answer adds to the prompt before it is
  // trained up to and including its eos; the template's separator after it ("\n") is not.
  #multiTurn(messages: ChatTurn[], ctx: RecordContext): LlavaSample {
    const inputIds: number[] = [];
    const labels: number[] = [];
    let done = "";
    messages.forEach((turn, k) => {
      if (turn.role !== "assistant") return;
      if (turn.content.length === 0) throw dataError(ctx, `gpt turn ${k} is empty`, "empty_answer");
      const prompt = this.tokenizer.applyChatTemplate(messages.slice(0, k), { addGenerationPrompt: true });
      const full = this.tokenizer.applyChatTemplate(messages.slice(0, k + 1));
      if (!prompt.startsWith(done) || !full.startsWith(prompt))
        throw new LlavaError("the chat template does not render a conversation's prefixes as prefixes");
      const promptIds = this.#encode(prompt.slice(done.length));
      inputIds.push(...promptIds);
      labels.push(...promptIds.map(() => IGNORE_INDEX));
      const answerIds = this.tokenizer.encode(full.slice(prompt.length), { addSpecialTokens: false });
      const end = answerIds.indexOf(this.#eosTokenId);
      if (end < 0) throw new LlavaError(`the chat template does not end answer ${k} with the eos token`);
      inputIds.push(...answerIds);
      labels.push(...answerIds.map((id, i) => (i <= end ? id : IGNORE_INDEX)));
      done = full;
    });
    return { inputIds, labels };
  }
}
