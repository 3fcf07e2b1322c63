// The product path: the real LlavaProcessor + ClipImageProcessor, built from plain data so every worker
// thread builds its own. Imported lazily so the readers and zip code never load the tokenizer or tfjs.
import type { SampleProcessor } from "./sample-processor.js";

export interface ProcessorSpec {
  /** Tokenizer folder, normally after the build step's surgery (`<image>` added), e.g. a LLaVA model folder. */
  tokenizer: string;
  /** Folder or file of `preprocessor_config.json`, or its parsed contents. */
  imageProcessor: string | Record<string, unknown>;
  /** "crop" (CLIPImageProcessor, default) or LLaVA-1.5's "pad". */
  imageMode?: "crop" | "pad";
  /** LlavaProcessor options (imageSeqLength, systemPrompt, imageToken, modelMaxLength). */
  llava?: {
    imageSeqLength?: number;
    systemPrompt?: string | null;
    imageToken?: string;
    modelMaxLength?: number;
  };
  /** Add the image token as a special token when the tokenizer lacks it (a raw Qwen2.5 folder). */
  addImageToken?: boolean;
}

export async function createSampleProcessor(spec: ProcessorSpec): Promise<SampleProcessor> {
  const { ClipImageProcessor, LlavaProcessor } = await import("@llava-ts/processor");
  const { Tokenizer } = await import("@llava-ts/tokenizer");
  const image =
    typeof spec.imageProcessor === "string"
      ? await ClipImageProcessor.fromPretrained(spec.imageProcessor)
      : ClipImageProcessor.fromConfig(spec.imageProcessor);
  const tokenizer = await Tokenizer.fromPretrained(spec.tokenizer);
  const imageToken = spec.llava?.imageToken ?? "<image>";
  if (spec.addImageToken && tokenizer.tokenToId(imageToken) === undefined)
    tokenizer.addSpecialTokens([imageToken]);
  const text = new LlavaProcessor(tokenizer, spec.llava ?? {});
  return { text, image, imageMode: spec.imageMode };
}
