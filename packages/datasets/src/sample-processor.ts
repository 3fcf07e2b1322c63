// What the loader needs from @llava-ts/processor, as an interface: the product path plugs in the real
// LlavaProcessor + ClipImageProcessor (see create-sample-processor.ts); workers rebuild it from a plain spec.
import type { SampleMode } from "./llava-dataset.js";
import type { Turn } from "./record-formats.js";

export interface TrainingSampleBuilder {
  buildTrainingSample(
    conversations: readonly Turn[],
    options: { mode: SampleMode },
  ):
    | { inputIds: ArrayLike<number>; labels: ArrayLike<number> }
    | Promise<{ inputIds: ArrayLike<number>; labels: ArrayLike<number> }>;
}

export interface ImagePreprocessor {
  preprocess(
    input: Buffer,
    options?: { mode?: "crop" | "pad" },
  ): Promise<{ data: Float32Array; shape: readonly [number, number, number] }>;
}

export interface SampleProcessor {
  text: TrainingSampleBuilder;
  image: ImagePreprocessor;
  /** "crop" (CLIPImageProcessor) or LLaVA-1.5's "pad". */
  imageMode?: "crop" | "pad";
}
