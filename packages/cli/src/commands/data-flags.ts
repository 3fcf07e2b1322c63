// The flags that name a dataset (file, images, format), shared by the commands that read one.
import type { DatasetSpec, RecordFormat } from "@llava-ts/datasets";
import type { Flags, FlagTable } from "../args.js";

export const RECORD_FORMATS: readonly RecordFormat[] = ["llava", "sharegpt4o", "textocr"];

export function dataFlags(what: string): FlagTable {
  return {
    data: {
      type: "string",
      value: "FILE",
      help: `${what}: chat.json (LLaVA / CC3M list) or .jsonl (ShareGPT-4o, TextOCR)`,
      aliases: ["data-path"],
    },
    images: { type: "string", value: "DIR|ZIP", help: "image folder or .zip (read in place)" },
    "image-prefix": {
      type: "string",
      value: "PATH",
      help: "prefix of the image names inside the zip/folder",
    },
    format: { type: "string", value: "F", help: `${RECORD_FORMATS.join(" | ")} (default from the file)` },
    "on-error": {
      type: "string",
      value: "P",
      help: "bad records: raise | skip (skips are counted and reported)",
      default: "raise",
    },
  };
}

export function datasetSpec(f: Flags, flag = "data"): DatasetSpec {
  const images = f.existingPath("images", "image folder or zip");
  return {
    file: f.requiredPath(flag, "data file"),
    format: f.choice("format", RECORD_FORMATS),
    images: images === undefined ? undefined : { path: images, prefix: f.string("image-prefix") },
    onError: f.choice("on-error", ["raise", "skip"] as const),
  };
}
