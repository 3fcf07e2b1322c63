// A LLaVA model folder ready for inference: the model (plus a LoRA adapter, or merged into the weights),
// its tokenizer, LlavaProcessor and CLIP image processor, and batched, streamed generation.
import { LlavaForConditionalGeneration, llavaImageMode } from "@llava-ts/llava";
import { loadAdapter, mergeAndUnload } from "@llava-ts/lora";
import {
  ClipImageProcessor,
  type ImageInput,
  LlavaProcessor,
  type LlavaTurn,
  type PreprocessMode,
} from "@llava-ts/processor";
import { Tokenizer } from "@llava-ts/tokenizer";
import * as tf from "@tensorflow/tfjs-core";
import { type PromptFormat, readPromptFormat } from "./prompt-format.js";

export interface LoadOptions {
  /** A PEFT adapter folder to apply on top of the base weights. */
  adapter?: string;
  /** Fold the adapter into the base weights (the result of `llava merge`, without writing it). */
  merge?: boolean;
}

/** Decoding settings, with HF generate()'s meaning and defaults (greedy unless doSample). */
export interface GenerationSettings {
  maxNewTokens?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  /** Seed of the sampling RNG (a fixed seed gives the same answers run after run). */
  seed?: number;
}

/** One prompt of a batch: the conversation so far (its last turn is the user's) and its images. */
export interface PromptRequest {
  turns: readonly LlavaTurn[];
  /** pixel_values [3, S, S] of each image, in the order of the prompt's <image> tokens. */
  images: readonly Float32Array[];
}

export class LlavaSession {
  /** How images are fitted to the tower: config.json's image_aspect_ratio ("pad" as LLaVA-1.5), else crop. */
  readonly imageMode: PreprocessMode;
  /** Where a prompt without `<image>` gets its image (prompt_format.json of the adapter, else the model). */
  readonly promptFormat: PromptFormat;

  private constructor(
    readonly dir: string,
    readonly model: LlavaForConditionalGeneration,
    readonly tokenizer: Tokenizer,
    readonly processor: LlavaProcessor,
    readonly imageProcessor: ClipImageProcessor,
    adapter?: string,
  ) {
    this.imageMode = llavaImageMode(model.config);
    this.promptFormat = readPromptFormat(adapter, dir);
  }

  static async load(dir: string, options: LoadOptions = {}): Promise<LlavaSession> {
    const model = LlavaForConditionalGeneration.fromPretrained(dir);
    try {
      if (options.adapter) {
        loadAdapter(model, options.adapter);
        if (options.merge) mergeAndUnload(model);
      }
      const tokenizer = await Tokenizer.fromPretrained(dir);
      const imageProcessor = await ClipImageProcessor.fromPretrained(dir);
      const processor = new LlavaProcessor(tokenizer, {
        imageSeqLength: model.config.image_seq_length,
        imageProcessor,
      });
      if (processor.imageTokenId !== model.config.image_token_index)
        throw new Error(
          `${dir}: the tokenizer's ${processor.imageToken} is id ${processor.imageTokenId}, but config.json says image_token_index ${model.config.image_token_index}`,
        );
      return new LlavaSession(dir, model, tokenizer, processor, imageProcessor, options.adapter);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** pixel_values [3, S, S] of one image (a path or encoded bytes), in the model's image mode by default. */
  async pixels(image: ImageInput, mode: PreprocessMode = this.imageMode): Promise<Float32Array> {
    return (await this.imageProcessor.preprocess(image, { mode })).data;
  }

  /**
   * Answers a batch of prompts in one generation: prompts left-padded to one length (as HF's batched
   * generate expects), their images stacked in row order. `onText(row, piece)` receives each row's new text
   * as it is decoded (a multi-byte character split over tokens waits for its last token). Returns the
   * answers in request order.
   */
  async generate(
    requests: readonly PromptRequest[],
    settings: GenerationSettings = {},
    onText?: (row: number, piece: string) => void,
  ): Promise<string[]> {
    if (requests.length === 0) return [];
    const pad = this.model.config.pad_token_id ?? this.tokenizer.eosTokenId ?? 0;
    const eos = this.tokenizer.eosTokenId ?? undefined;
    const prompts = requests.map(
      (r) => this.processor.buildPrompt(r.turns, { numImages: r.images.length }).inputIds,
    );
    const T = Math.max(...prompts.map((p) => p.length));
    const ids = prompts.flatMap((p) => [...new Array<number>(T - p.length).fill(pad), ...p]); // [B, T]
    const mask = prompts.flatMap((p) => [...new Array<number>(T - p.length).fill(0), ...p.map(() => 1)]);
    const S = this.model.config.vision_config.image_size;
    const plane = 3 * S * S;
    const images = requests.flatMap((r) => r.images);
    let pixelValues: tf.Tensor4D | undefined;
    if (images.length > 0) {
      const px = new Float32Array(images.length * plane);
      images.forEach((p, k) => {
        if (p.length !== plane)
          throw new RangeError(`image ${k}: ${p.length} pixel values, expected 3×${S}×${S} = ${plane}`);
        px.set(p, k * plane);
      });
      pixelValues = tf.tensor4d(px, [images.length, 3, S, S]);
    }
    const input = tf.tensor2d(ids, [requests.length, T], "int32");
    const tokens: number[][] = requests.map(() => []);
    const shown = requests.map(() => "");
    const done = requests.map(() => false);
    const decode = (row: number) => this.tokenizer.decode(tokens[row], { skipSpecialTokens: true });
    try {
      for await (const step of this.model.stream(input, {
        pixelValues,
        attentionMask: mask,
        maxNewTokens: settings.maxNewTokens ?? 128,
        eosTokenId: eos,
        padTokenId: pad,
        doSample: settings.doSample,
        temperature: settings.temperature,
        topK: settings.topK,
        topP: settings.topP,
        repetitionPenalty: settings.repetitionPenalty,
        seed: settings.seed,
      })) {
        step.tokens.forEach((id, row) => {
          if (done[row]) return;
          if (id === eos) {
            done[row] = true;
            return;
          }
          tokens[row].push(id);
          if (!onText) return;
          const text = decode(row);
          if (!text.endsWith("\uFFFD") && text.length > shown[row].length) {
            onText(row, text.slice(shown[row].length));
            shown[row] = text;
          }
        });
      }
    } finally {
      tf.dispose([input, ...(pixelValues ? [pixelValues] : [])]);
    }
    return requests.map((_, row) => {
      const text = decode(row);
      if (onText && text.length > shown[row].length) onText(row, text.slice(shown[row].length));
      return text;
    });
  }

  dispose(): void {
    this.model.dispose();
  }
}
