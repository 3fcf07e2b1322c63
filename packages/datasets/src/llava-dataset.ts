// Random access over one dataset file plus its images: `get(i)` parses record i alone and reads its images.
// Everything needed to reopen it (spec + byte index) is plain data, so worker threads reopen it cheaply.
import { ConfigError, DataError } from "@llava-ts/core";
import type { SampleMode } from "@llava-ts/processor";
import { type ImageSource, type ImageSourceSpec, openImageSource } from "./image-source.js";
import { indexJsonArray } from "./index-json-array.js";
import { indexJsonLines } from "./index-json-lines.js";
import {
  type DatasetRecord,
  detectFormat,
  type FormatOptions,
  type RecordFormat,
  type Turn,
  toRecord,
} from "./record-formats.js";
import { RecordIndex, type RecordOffsets } from "./record-index.js";
import { SkipReport } from "./skip-report.js";

export type OnError = "raise" | "skip";
export interface DatasetSpec extends FormatOptions {
  /** `chat.json` (a JSON list) or a `.jsonl` file. */
  file: string;
  /**
   * Default from the first record: TextOCR-GPT4o when it has a "caption" and no "conversations", else
   * "llava" for a JSON list and "sharegpt4o" for JSONL.
   */
  format?: RecordFormat;
  /** Image folder or `.zip` (string), or a spec with a prefix. Omit for text-only data. */
  images?: ImageSourceSpec | string;
  /** Default "raise": a DataError naming the file and record. "skip": counted in `report`. */
  onError?: OnError;
  /**
   * How the processor builds ids and labels. Default: "single_turn" (the tutorial's recipe) for records
   * of one human and one gpt turn, "multi_turn" otherwise.
   */
  mode?: SampleMode;
}

/** A record with its encoded images, before any decoding or tokenisation. */
export interface RawSample {
  index: number;
  id: string;
  conversations: Turn[];
  imageNames: string[];
  images: Buffer[];
  mode: SampleMode;
}

/** Record 0 parsed, or undefined when there is none or it is broken (then reading it reports the error). */
function firstRecord(index: RecordIndex): unknown {
  if (index.length === 0) return undefined;
  try {
    return index.read(0);
  } catch {
    return undefined;
  }
}

export class LlavaDataset {
  readonly report = new SkipReport();
  readonly format: RecordFormat;
  private readonly images?: ImageSource;

  private constructor(
    readonly spec: DatasetSpec,
    private readonly index: RecordIndex,
  ) {
    this.format = spec.format ?? detectFormat(spec.file, firstRecord(index));
    if (spec.images !== undefined) this.images = openImageSource(spec.images);
  }

  /** Indexes `spec.file` (or reuses `offsets` from an earlier index of the same file). */
  static open(spec: DatasetSpec, offsets?: RecordOffsets): LlavaDataset {
    let index: RecordIndex;
    if (offsets) index = new RecordIndex(spec.file, offsets);
    else if (spec.file.endsWith(".jsonl")) index = indexJsonLines(spec.file);
    else index = indexJsonArray(spec.file);
    if (index.length === 0) throw new DataError("the file holds no records", spec.file, undefined, "empty");
    return new LlavaDataset(spec, index);
  }

  get length(): number {
    return this.index.length;
  }

  get file(): string {
    return this.spec.file;
  }

  get onError(): OnError {
    return this.spec.onError ?? "raise";
  }

  /** The byte index (typed arrays) to hand to worker threads. */
  get offsets(): RecordOffsets {
    return this.index.ranges;
  }

  /** Record i parsed and checked; throws DataError (with `reason`) for a bad record. */
  record(i: number): DatasetRecord {
    return toRecord(this.index.read(i), this.format, this.spec, this.spec.file, i);
  }

  /** Record i with its image bytes; throws DataError for a bad record or a missing image. */
  get(i: number): RawSample {
    const rec = this.record(i);
    const images = rec.images.map((name) => {
      // Not a bad record but a missing option: every record with an image would fail the same way, so
      // it is never skipped under onError "skip" (a run that trains on nothing is not a run).
      if (!this.images)
        throw new ConfigError(
          `record ${i} names image "${name}" but no image folder or zip was given (images, --images)`,
          "images",
          this.file,
        );
      try {
        return this.images.read(name);
      } catch (err) {
        if (err instanceof DataError)
          throw new DataError(err.message, this.file, i, err.reason ?? "missing_image");
        throw err;
      }
    });
    const conv = rec.conversations;
    const simple = conv.length === 2 && conv[0].from === "human" && conv[1].from === "gpt";
    return {
      index: i,
      id: rec.id,
      conversations: conv,
      imageNames: rec.images,
      images,
      mode: this.spec.mode ?? (simple ? "single_turn" : "multi_turn"),
    };
  }

  /** `get(i)` under the dataset's onError policy: a skipped record is counted in `report` and gives null. */
  tryGet(i: number): RawSample | null {
    try {
      return this.get(i);
    } catch (err) {
      if (this.onError === "skip" && err instanceof DataError) {
        this.report.addError(err, i);
        return null;
      }
      throw err;
    }
  }

  close(): void {
    this.index.close();
    this.images?.close();
  }
}
