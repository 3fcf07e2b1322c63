// What the loader needs from @llava-ts/processor, as a structural interface: LlavaProcessor and
// ClipImageProcessor satisfy it as they are (the product path, create-sample-processor.ts).
import type { TrainingSampleOptions } from "@llava-ts/processor";
import type { Turn } from "./record-formats.js";

export interface TrainingSampleBuilder {
  buildTrainingSample(
    conversations: readonly Turn[],
    options: TrainingSampleOptions,
  ): { inputIds: ArrayLike<number>; labels: ArrayLike<number>; truncatedFrom?: number };
}

export interface ImagePreprocessor {
  preprocess(
    input: Uint8Array,
    options?: { mode?: "crop" | "pad" },
  ): Promise<{ data: Float32Array; shape: readonly [number, number, number] }>;
}

export interface SampleProcessor {
  text: TrainingSampleBuilder;
  image: ImagePreprocessor;
  /** "crop" (CLIPImageProcessor) or LLaVA-1.5's "pad". */
  imageMode?: "crop" | "pad";
}
