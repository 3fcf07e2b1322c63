export {
  type CollateOptions,
  collate,
  type LlavaBatch,
  type ProcessedSample,
} from "./collate.js";
export { createSampleProcessor, type ProcessorSpec } from "./create-sample-processor.js";
export { EpochSampler, epochPermutation, type SamplerOptions } from "./epoch-sampler.js";
export {
  FolderImageSource,
  type ImageSource,
  type ImageSourceSpec,
  openImageSource,
  ZipImageSource,
} from "./image-source.js";
export {
  LlavaDataLoader,
  type LoaderOptions,
  type LoaderStats,
  maxLoaderWorkers,
} from "./llava-data-loader.js";
export {
  type DatasetSpec,
  LlavaDataset,
  type OnError,
  type RawSample,
} from "./llava-dataset.js";
export {
  type DatasetRecord,
  DEFAULT_TEXTOCR_INSTRUCTION,
  detectFormat,
  type FormatOptions,
  type RecordFormat,
  type Turn,
  toRecord,
} from "./record-formats.js";
export type { RecordOffsets } from "./record-index.js";
export type { ImagePreprocessor, SampleProcessor, TrainingSampleBuilder } from "./sample-processor.js";
export {
  mergeSkipSummaries,
  SKIP_REASONS,
  type SkippedRecord,
  type SkipReason,
  SkipReport,
  type SkipSummary,
} from "./skip-report.js";
export {
  type CaptionStyle,
  generateSyntheticCaptions,
  type SyntheticCaptions,
  type SyntheticCaptionsOptions,
  type SyntheticShape,
} from "./synthetic-captions.js";
export { type LlavaBatchTensors, toTensors } from "./to-tensors.js";
export { MAX_ZIP_MEMBER_BYTES, type ZipEntry, ZipReader, type ZipReaderOptions } from "./zip-reader.js";
