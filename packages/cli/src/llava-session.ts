// A LLaVA model folder ready for inference: the model (plus a LoRA adapter, or merged into the weights),
// its tokenizer, LlavaProcessor and CLIP image processor, and greedy captioning of one or many images.
import { copyFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import { loadAdapter, mergeAndUnload } from "@llava-ts/lora";
import { ClipImageProcessor, type ImageInput, LlavaProcessor, type LlavaTurn } from "@llava-ts/processor";
import { Tokenizer } from "@llava-ts/tokenizer";
import * as tf from "@tensorflow/tfjs-core";

export interface LoadOptions {
  /** A PEFT adapter folder to apply on top of the base weights. */
  adapter?: string;
  /** Fold the adapter into the base weights (the result of `llava merge`, without writing it). */
  merge?: boolean;
}

export interface GenerationSettings {
  maxNewTokens?: number;
}

export class LlavaSession {
  private constructor(
    readonly dir: string,
    readonly model: LlavaForConditionalGeneration,
    readonly tokenizer: Tokenizer,
    readonly processor: LlavaProcessor,
    readonly imageProcessor: ClipImageProcessor,
  ) {}

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
      return new LlavaSession(dir, model, tokenizer, processor, imageProcessor);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** pixel_values [1, 3, S, S] of one image (a path or encoded bytes). */
  async pixels(image: ImageInput): Promise<tf.Tensor4D> {
    const { data, shape } = await this.imageProcessor.preprocess(image);
    return tf.tensor4d(data, [1, ...shape]);
  }

  /**
   * Greedy answer to the conversation (its last turn is the user's), streamed: `onText` receives each new
   * piece of text as it is decoded. Returns the whole answer.
   */
  async answer(
    turns: readonly LlavaTurn[],
    pixelValues: tf.Tensor,
    onText?: (piece: string) => void,
    settings: GenerationSettings = {},
  ): Promise<string> {
    const prompt = this.processor.buildPrompt(turns);
    const eos = this.tokenizer.eosTokenId ?? undefined;
    const tokens: number[] = [];
    let shown = "";
    for await (const step of this.model.stream(prompt.inputIds, {
      pixelValues,
      maxNewTokens: settings.maxNewTokens ?? 128,
      eosTokenId: eos,
    })) {
      const id = step.tokens[0];
      if (id === eos) break;
      tokens.push(id);
      const text = this.tokenizer.decode(tokens, { skipSpecialTokens: true });
      // A multi-byte character split over tokens decodes to U+FFFD until its last token arrives.
      if (!text.endsWith("\uFFFD") && text.length > shown.length) {
        onText?.(text.slice(shown.length));
        shown = text;
      }
    }
    const text = this.tokenizer.decode(tokens, { skipSpecialTokens: true });
    if (text.length > shown.length) onText?.(text.slice(shown.length));
    return text;
  }

  /**
   * Greedy captions for many images with one prompt, `batchSize` at a time (every row has the same prompt
   * length, so no padding is needed).
   */
  async captionBatch(
    pixelValues: Float32Array[],
    prompt: string,
    settings: GenerationSettings & { batchSize?: number } = {},
  ): Promise<string[]> {
    const ids = this.processor.buildPrompt(prompt).inputIds;
    const S = this.model.config.vision_config.image_size;
    const plane = 3 * S * S;
    const eos = this.tokenizer.eosTokenId ?? undefined;
    const batchSize = settings.batchSize ?? 32;
    const out: string[] = [];
    for (let i = 0; i < pixelValues.length; i += batchSize) {
      const rows = pixelValues.slice(i, i + batchSize);
      const px = new Float32Array(rows.length * plane);
      rows.forEach((p, k) => {
        px.set(p, k * plane);
      });
      const pv = tf.tensor4d(px, [rows.length, 3, S, S]);
      const input = tf.tensor2d(
        rows.flatMap(() => ids),
        [rows.length, ids.length],
        "int32",
      );
      try {
        const { newTokens } = await this.model.generate(input, {
          pixelValues: pv,
          maxNewTokens: settings.maxNewTokens ?? 32,
          eosTokenId: eos,
        });
        for (const row of newTokens) {
          const end = row.indexOf(eos ?? -1);
          out.push(this.tokenizer.decode(end < 0 ? row : row.slice(0, end), { skipSpecialTokens: true }));
        }
      } finally {
        tf.dispose([pv, input]);
      }
    }
    return out;
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Weight files of a checkpoint folder (these are what training and merging replace). */
export function isWeightFile(name: string): boolean {
  return name.endsWith(".safetensors") || name === "model.safetensors.index.json";
}

/**
 * Copies everything but the weights and config.json from `from` to `to`: tokenizer, chat template,
 * preprocessor and processor configs, generation config — what makes a weights folder a usable model.
 */
export function copyModelFiles(from: string, to: string): string[] {
  const copied: string[] = [];
  for (const name of readdirSync(from, { withFileTypes: true })) {
    if (!name.isFile() || isWeightFile(name.name) || name.name === "config.json") continue;
    if (existsSync(join(to, name.name))) continue;
    copyFileSync(join(from, name.name), join(to, name.name));
    copied.push(name.name);
  }
  return copied;
}
