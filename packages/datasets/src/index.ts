export {
  batchTransferList,
  type CollateOptions,
  collate,
  IGNORE_INDEX,
  type LlavaBatch,
  type ProcessedSample,
} from "./collate.js";
export { createSampleProcessor, type ProcessorSpec } from "./create-sample-processor.js";
export { crc32 } from "./crc32.js";
export { EpochSampler, epochPermutation, mulberry32, type SamplerOptions } from "./epoch-sampler.js";
export {
  FolderImageSource,
  type ImageSource,
  type ImageSourceSpec,
  openImageSource,
  ZipImageSource,
} from "./image-source.js";
export { indexJsonArray } from "./index-json-array.js";
export { indexJsonLines } from "./index-json-lines.js";
export { type LoaderOptions, type LoaderStats, LlavaDataLoader } from "./llava-data-loader.js";
export {
  type DatasetSpec,
  LlavaDataset,
  type OnError,
  type RawSample,
  type SampleMode,
} from "./llava-dataset.js";
export { processBatch, processSample } from "./process-batch.js";
export { RecordIndex, type RecordOffsets } from "./record-index.js";
export {
  DEFAULT_TEXTOCR_INSTRUCTION,
  type DatasetRecord,
  type FormatOptions,
  type RecordFormat,
  type Turn,
  toRecord,
} from "./record-formats.js";
export type { ImagePreprocessor, SampleProcessor, TrainingSampleBuilder } from "./sample-processor.js";
export {
  SKIP_REASONS,
  type SkippedRecord,
  type SkipReason,
  SkipReport,
  type SkipSummary,
} from "./skip-report.js";
export {
  CHINESE_CAPTIONS,
  type CaptionStyle,
  ENGLISH_CAPTIONS,
  generateSyntheticCaptions,
  type SyntheticCaptions,
  type SyntheticCaptionsOptions,
  type SyntheticShape,
} from "./synthetic-captions.js";
export { type LlavaBatchTensors, toTensors } from "./to-tensors.js";
export { type ZipEntry, ZipReader } from "./zip-reader.js";
export { type ZipMethod, ZipWriter, type ZipWriterOptions, writeZip } from "./zip-writer.js";
