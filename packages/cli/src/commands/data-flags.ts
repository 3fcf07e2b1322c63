// The flags that name a dataset (file, images, format), shared by the commands that read one.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { DatasetSpec, RecordFormat } from "@llava-ts/datasets";
import { type Flags, type FlagTable, UsageError } from "../args.js";

export const RECORD_FORMATS: readonly RecordFormat[] = ["llava", "sharegpt4o", "textocr"];

export function dataFlags(what: string): FlagTable {
  return {
    data: {
      type: "string",
      value: "FILE|DIR",
      help: `${what}: chat.json (LLaVA / CC3M list) or .jsonl (ShareGPT-4o, TextOCR), or a folder with chat.json`,
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

/** Where a folder given as the data finds its images (without --images): the tutorial's images_dl/ first. */
const IMAGE_FOLDERS = ["images_dl", "images.zip", "images"];

/**
 * The data file and its images. The tutorial's --data_path is a folder (LLaVA-CC3M-Pretrain-595K): its
 * chat.json, with the images in --images or else the folder's images_dl/, images.zip or images/.
 */
export function dataFiles(f: Flags, flag = "data", imagesFlag = "images"): { file: string; images?: string } {
  const given = f.requiredPath(flag, "data file or folder");
  const images = f.existingPath(imagesFlag, "image folder or zip");
  if (!statSync(given).isDirectory()) return { file: given, images };
  const file = join(given, "chat.json");
  if (!existsSync(file))
    throw new UsageError(
      `llava ${f.command}: --${flag} ${given} is a folder without chat.json (give the data file, or a folder with chat.json and images_dl/, images.zip or images/)`,
      `--${flag}`,
    );
  return { file, images: images ?? IMAGE_FOLDERS.map((d) => join(given, d)).find((p) => existsSync(p)) };
}

export function datasetSpec(f: Flags, flag = "data"): DatasetSpec {
  const { file, images } = dataFiles(f, flag);
  return {
    file,
    format: f.choice("format", RECORD_FORMATS),
    images: images === undefined ? undefined : { path: images, prefix: f.string("image-prefix") },
    onError: f.choice("on-error", ["raise", "skip"] as const),
  };
}
