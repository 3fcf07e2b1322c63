// A LLaVA folder loaded by URL in the page: the model (HTTP range requests: headers, then each tensor), and
// when the folder has them the tokenizer and the image processor — the fixture model has neither, so its
// captions are token ids and its images are fitted by CLIP's defaults at the tower's size.
import { urlFolder } from "@llava-ts/core";
import { LlavaForConditionalGeneration, llavaImageMode } from "@llava-ts/llava";
import { adapterFiles, applyLora } from "@llava-ts/lora";
import { ClipImageProcessor, LlavaProcessor } from "@llava-ts/processor";
import { Tokenizer } from "@llava-ts/tokenizer";
import * as tf from "@tensorflow/tfjs-core";
import { AdamW, trainStep } from "./lora-step.js";

export class BrowserLlava {
  private constructor(
    readonly model: LlavaForConditionalGeneration,
    readonly imageProcessor: ClipImageProcessor,
    readonly processor: LlavaProcessor | undefined,
    readonly tokenizer: Tokenizer | undefined,
  ) {}

  static async load(url: string): Promise<BrowserLlava> {
    const base = new URL(url, location.href);
    const folder = urlFolder(base);
    const model = await LlavaForConditionalGeneration.fromPretrained(folder);
    const S = model.config.vision_config.image_size;
    const imageProcessor = (await folder.has("preprocessor_config.json"))
      ? await ClipImageProcessor.fromPretrained(folder)
      : ClipImageProcessor.fromConfig({ size: { shortest_edge: S }, crop_size: { height: S, width: S } });
    let tokenizer: Tokenizer | undefined;
    let processor: LlavaProcessor | undefined;
    if (await folder.has("tokenizer.json")) {
      tokenizer = await Tokenizer.fromPretrained(folder);
      processor = new LlavaProcessor(tokenizer, {
        imageSeqLength: model.config.image_seq_length,
        imageProcessor,
      });
    }
    return new BrowserLlava(model, imageProcessor, processor, tokenizer);
  }

  /** pixel_values [1, 3, S, S] of an image file. */
  async pixels(image: Blob): Promise<tf.Tensor4D> {
    const { data, shape } = await this.imageProcessor.preprocess(image, {
      mode: llavaImageMode(this.model.config),
    });
    return tf.tensor4d(data, [1, ...shape]);
  }

  /** The prompt's ids: the chat template when there is a tokenizer, else the image tokens alone. */
  promptIds(prompt: string): number[] {
    if (this.processor) return this.processor.buildPrompt(`<image>\n${prompt}`, { numImages: 1 }).inputIds;
    return new Array<number>(this.model.config.image_seq_length).fill(this.model.config.image_token_index);
  }

  /** Greedy caption, each new token handed to `onText` (text with a tokenizer, else its id). */
  async caption(
    image: Blob,
    prompt: string,
    onText: (piece: string) => void,
    maxNewTokens = 24,
  ): Promise<number[]> {
    const pixelValues = await this.pixels(image);
    const ids = this.promptIds(prompt);
    const eos = this.tokenizer?.eosTokenId ?? undefined;
    const tokens: number[] = [];
    let shown = "";
    try {
      for await (const step of this.model.stream(tf.tensor2d(ids, [1, ids.length], "int32"), {
        pixelValues,
        maxNewTokens,
        eosTokenId: eos ?? [],
      })) {
        const id = step.tokens[0];
        if (id === eos) break;
        tokens.push(id);
        if (!this.tokenizer) onText(`${tokens.length > 1 ? " " : ""}${id}`);
        else {
          const text = this.tokenizer.decode(tokens, { skipSpecialTokens: true });
          if (!text.endsWith("\uFFFD") && text.length > shown.length) onText(text.slice(shown.length));
          shown = text;
        }
      }
    } finally {
      pixelValues.dispose();
    }
    return tokens;
  }

  /**
   * `steps` AdamW steps (lr 1e-3) of a fresh LoRA (r 8, alpha 16 on the language model's projections) on
   * one image and its caption (token ids when the folder has no tokenizer); returns the losses.
   */
  async fineTune(image: Blob, caption: string, steps: number, onStep: (i: number, loss: number) => void) {
    if (!this.model.trainableParameters().some(([n]) => n.includes("lora_")))
      applyLora(this.model, {
        r: 8,
        lora_alpha: 16,
        lora_dropout: 0,
        target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      });
    const pixelValues = await this.pixels(image);
    const { inputIds, labels } = this.sample(caption);
    const opt = new AdamW(1e-3);
    const losses: number[] = [];
    try {
      for (let i = 0; i < steps; i++) {
        const batch = { inputIds, labels, attentionMask: inputIds.map(() => 1), batchSize: 1, pixelValues };
        losses.push(await trainStep(this.model, opt, batch));
        onStep(i, losses[i]);
        await tf.nextFrame(); // let the page paint between steps
      }
    } finally {
      opt.dispose();
      pixelValues.dispose();
    }
    return losses;
  }

  private sample(caption: string): { inputIds: number[]; labels: number[] } {
    if (this.processor)
      return this.processor.buildTrainingSample(
        [
          { from: "human", value: "<image>\nDescribe the image." },
          { from: "gpt", value: caption },
        ],
        { mode: "single_turn" },
      );
    const answer = caption.split(/\s+/).filter(Boolean).map(Number);
    if (
      answer.some((id) => !Number.isInteger(id) || id < 0 || id >= this.model.config.text_config.vocab_size)
    )
      throw new Error(
        `this model has no tokenizer: give the caption as token ids (0 to ${this.model.config.text_config.vocab_size - 1})`,
      );
    const prompt = this.promptIds("");
    return { inputIds: [...prompt, ...answer], labels: [...prompt.map(() => -100), ...answer] };
  }

  /** The adapter's two files (adapter_config.json, adapter_model.safetensors) as downloadable Blobs. */
  async adapterBlobs(): Promise<Record<string, Blob>> {
    const files = await adapterFiles(this.model);
    return Object.fromEntries(
      Object.entries(files).map(([name, bytes]) => [name, new Blob([bytes as Uint8Array<ArrayBuffer>])]),
    );
  }

  dispose(): void {
    this.model.dispose();
  }
}
