// The product path: the real @llava-ts/processor classes, built from plain data so every worker thread can
// build its own. Imported lazily so reading and zip code never load the tokenizer or tfjs.
import type { SampleProcessor } from "./sample-processor.js";

export interface ProcessorSpec {
  /** Tokenizer folder after the build step's surgery (`<image>` added), e.g. a LLaVA model folder. */
  tokenizer: string;
  /** Folder or file of `preprocessor_config.json`, or its parsed contents. */
  imageProcessor: string | Record<string, unknown>;
  /** "crop" (CLIPImageProcessor, default) or LLaVA-1.5's "pad". */
  imageMode?: "crop" | "pad";
  /** Passed to LlavaProcessor (e.g. image_seq_length, system prompt). */
  llava?: Record<string, unknown>;
}

export async function createSampleProcessor(spec: ProcessorSpec): Promise<SampleProcessor> {
  const { ClipImageProcessor, LlavaProcessor } = (await import("@llava-ts/processor")) as any;
  const { Tokenizer } = await import("@llava-ts/tokenizer");
  const image =
    typeof spec.imageProcessor === "string"
      ? await ClipImageProcessor.fromPretrained(spec.imageProcessor)
      : ClipImageProcessor.fromConfig(spec.imageProcessor);
  const tokenizer = await Tokenizer.fromPretrained(spec.tokenizer);
  const text = new LlavaProcessor(tokenizer, spec.llava ?? {});
  return { text, image, imageMode: spec.imageMode };
}
