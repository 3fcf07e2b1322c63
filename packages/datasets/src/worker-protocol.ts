// Messages between the loader and its worker threads (structured-clone-able plain data).
import type { CollateOptions, LlavaBatch } from "./collate.js";
import type { ProcessorSpec } from "./create-sample-processor.js";
import type { DatasetSpec } from "./llava-dataset.js";
import type { RecordOffsets } from "./record-index.js";

export interface InitMessage {
  type: "init";
  dataset: DatasetSpec;
  offsets: RecordOffsets;
  processor: ProcessorSpec;
  collate: CollateOptions;
}

export interface TaskMessage {
  type: "task";
  id: number;
  indices: number[];
}

export type WorkerReply =
  | { type: "ready" }
  | { type: "result"; id: number; batch: LlavaBatch }
  | { type: "error"; id: number; message: string; stack?: string };
