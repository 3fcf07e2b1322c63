// Maps each source format's rows onto one LLaVA record shape: { id, images, conversations:[{from, value}] }.
// Roles are normalised to LLaVA's: user → human, assistant → gpt.
import { DataError } from "@llava-ts/core";

export interface Turn {
  from: "human" | "gpt" | "system";
  value: string;
}

export interface DatasetRecord {
  id: string;
  /** Image names relative to the image source (0 for text-only records, usually 1). */
  images: string[];
  conversations: Turn[];
}

/**
 * - "llava": CC3M-595K `chat.json`, LLaVA-Instruct (a JSON list of `{id, image?, conversations}`).
 * - "sharegpt4o": ShareGPT-4o JSONL rows `{image, width, height, conversations}`.
 * - "textocr": TextOCR-GPT4o JSONL rows with an image file name and a `caption`.
 */
export type RecordFormat = "llava" | "sharegpt4o" | "textocr";

export interface FormatOptions {
  /** TextOCR: the human turn; `<image>` is prepended (with a newline) when it does not contain one. */
  instruction?: string;
  /** TextOCR: the row key holding the image file name; default: the first of filename, file_name, image. */
  imageKey?: string;
}

export const DEFAULT_TEXTOCR_INSTRUCTION = "<image>\nDescribe the image in detail, including any text in it.";

const ROLES: Record<string, Turn["from"]> = {
  human: "human",
  user: "human",
  gpt: "gpt",
  assistant: "gpt",
  system: "system",
};

/**
 * The format of a file when none is given, from its first record: a row with a "caption" and no
 * "conversations" is TextOCR-GPT4o; otherwise a JSON list is LLaVA's and JSONL is ShareGPT-4o's.
 */
export function detectFormat(file: string, firstRecord: unknown): RecordFormat {
  const r = firstRecord as Record<string, unknown> | null | undefined;
  if (r && typeof r === "object" && r.conversations === undefined && typeof r.caption === "string")
    return "textocr";
  return file.endsWith(".jsonl") ? "sharegpt4o" : "llava";
}

export function toRecord(
  row: unknown,
  format: RecordFormat,
  options: FormatOptions,
  file: string,
  index: number,
): DatasetRecord {
  const bad = (msg: string, reason: string): never => {
    throw new DataError(msg, file, index, reason);
  };
  if (typeof row !== "object" || row === null || Array.isArray(row))
    bad(`expected a JSON object, found ${Array.isArray(row) ? "an array" : typeof row}`, "malformed_record");
  const r = row as Record<string, unknown>;
  if (format === "textocr") {
    const key = options.imageKey ?? ["filename", "file_name", "image"].find((k) => typeof r[k] === "string");
    const image = key ? r[key] : undefined;
    if (typeof image !== "string" || image === "")
      bad(
        `no image file name (looked for ${options.imageKey ?? "filename, file_name, image"})`,
        "malformed_record",
      );
    if (typeof r.caption !== "string" || r.caption.trim() === "") bad("no caption", "empty_conversation");
    let instruction = options.instruction ?? DEFAULT_TEXTOCR_INSTRUCTION;
    if (!instruction.includes("<image>")) instruction = `<image>\n${instruction}`;
    return {
      id: String(r.id ?? image),
      images: [image as string],
      conversations: [
        { from: "human", value: instruction },
        { from: "gpt", value: r.caption as string },
      ],
    };
  }
  if (r.conversations === undefined && typeof r.caption === "string")
    bad(
      'no "conversations" but a "caption": a TextOCR-GPT4o row? read it with format "textocr" (--format textocr)',
      "malformed_conversation",
    );
  const image = r.image;
  let images: string[];
  if (image === undefined || image === null) images = [];
  else if (typeof image === "string") images = [image];
  else if (Array.isArray(image) && image.every((x) => typeof x === "string")) images = image as string[];
  else
    return bad(
      `"image" must be a string or a list of strings, found ${JSON.stringify(image)}`,
      "malformed_record",
    );
  return {
    id: String(r.id ?? images[0] ?? index),
    images,
    conversations: checkConversation(r.conversations, images.length, file, index),
  };
}

/** Checks the turns and the `<image>` count; returns them with normalised roles. */
export function checkConversation(conv: unknown, imageCount: number, file: string, index: number): Turn[] {
  const bad = (msg: string, reason: string): never => {
    throw new DataError(msg, file, index, reason);
  };
  if (conv === undefined) bad('no "conversations"', "malformed_conversation");
  if (!Array.isArray(conv))
    bad(`"conversations" must be a list, found ${typeof conv}`, "malformed_conversation");
  const list = conv as unknown[];
  if (list.length === 0) bad('"conversations" is empty', "empty_conversation");
  let tokens = 0;
  let answers = 0;
  const turns = list.map((t, j): Turn => {
    if (typeof t !== "object" || t === null)
      return bad(`turn ${j} is not an object`, "malformed_conversation");
    const { from, value } = t as Record<string, unknown>;
    if (typeof from !== "string" || typeof value !== "string")
      return bad(`turn ${j} needs string "from" and "value"`, "malformed_conversation");
    const role = ROLES[from];
    if (!role)
      return bad(
        `turn ${j} has unknown role "${from}" (expected human, gpt, user, assistant or system)`,
        "unknown_role",
      );
    tokens += value.split("<image>").length - 1;
    if (role === "gpt") answers++;
    return { from: role, value };
  });
  if (answers === 0) bad("no gpt/assistant turn: nothing to train on", "empty_conversation");
  if (tokens !== imageCount)
    bad(
      `${tokens} <image> token(s) in the conversation but ${imageCount} image(s) in the record`,
      "image_token_mismatch",
    );
  return turns;
}
