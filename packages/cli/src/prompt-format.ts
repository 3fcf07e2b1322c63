// Where `<image>` goes in a prompt that does not place it. LLaVA's own prompts put it first ("<image>\n…"),
// but training data may put it last ("Describe the image.\n<image>"), and a model answers best as it was
// trained. Training records what the data did in prompt_format.json (next to the adapter or model):
// the placement of each frequent prompt text, and the majority for the rest.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, DataError } from "@llava-ts/core";
import type { LlavaDataset } from "@llava-ts/datasets";

export const PROMPT_FORMAT_FILE = "prompt_format.json";
export const IMAGE_TOKEN = "<image>";

export type ImagePosition = "before" | "after";

export interface PromptFormat {
  /** For prompts not listed in `prompts`: the placement most first user turns of the training data had. */
  image_position: ImagePosition;
  /** Prompt text (without `<image>`, trimmed) → where its image was in the training data. */
  prompts?: Record<string, ImagePosition>;
  /** How many training prompts had the image before / after the text. */
  counts?: Record<ImagePosition, number>;
}

/** LLaVA's convention, for a model with no record of its training data. */
export const DEFAULT_PROMPT_FORMAT: PromptFormat = { image_position: "before" };

/** How many distinct prompt texts are remembered (CC3M-595K has a dozen; instruction data has one per record). */
const MAX_PROMPTS = 64;

/** The placement of `<image>` in a user turn, and the turn's text without it; null if it is in the middle. */
export function imagePlacement(turn: string): { position: ImagePosition; text: string } | null {
  const t = turn.trim();
  if (t.startsWith(IMAGE_TOKEN)) return { position: "before", text: t.slice(IMAGE_TOKEN.length).trim() };
  if (t.endsWith(IMAGE_TOKEN)) return { position: "after", text: t.slice(0, -IMAGE_TOKEN.length).trim() };
  return null;
}

/** What the first user turns of `conversations` (each a record's turns) do with `<image>`. */
export function promptFormatOf(
  conversations: Iterable<readonly { from: string; value: string }[]>,
): PromptFormat {
  const counts: Record<ImagePosition, number> = { before: 0, after: 0 };
  const byText = new Map<string, Record<ImagePosition, number>>();
  for (const turns of conversations) {
    const first = turns.find((t) => t.from === "human");
    const p = first?.value.includes(IMAGE_TOKEN) ? imagePlacement(first.value) : null;
    if (!p) continue;
    counts[p.position]++;
    const c = byText.get(p.text) ?? { before: 0, after: 0 };
    c[p.position]++;
    byText.set(p.text, c);
  }
  const major = (c: Record<ImagePosition, number>): ImagePosition =>
    c.after > c.before ? "after" : "before";
  const prompts: Record<string, ImagePosition> = {};
  const frequent = [...byText].sort((a, b) => b[1].before + b[1].after - (a[1].before + a[1].after));
  for (const [text, c] of frequent.slice(0, MAX_PROMPTS)) prompts[text] = major(c);
  return { image_position: major(counts), prompts, counts };
}

/** promptFormatOf the first `limit` records of a dataset (bad records are passed over, not counted). */
export function datasetPromptFormat(dataset: LlavaDataset, limit = 10_000): PromptFormat {
  const n = Math.min(limit, dataset.length);
  function* turns() {
    for (let i = 0; i < n; i++) {
      try {
        yield dataset.record(i).conversations;
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
      }
    }
  }
  return promptFormatOf(turns());
}

/** The first prompt_format.json found in `dirs` (adapter first, then model), else LLaVA's default. */
export function readPromptFormat(...dirs: (string | undefined)[]): PromptFormat {
  for (const dir of dirs) {
    if (!dir) continue;
    const file = join(dir, PROMPT_FORMAT_FILE);
    if (!existsSync(file)) continue;
    const f = JSON.parse(readFileSync(file, "utf8")) as PromptFormat;
    if (f.image_position !== "before" && f.image_position !== "after")
      throw new ConfigError(
        `${file}: image_position must be "before" or "after", found ${JSON.stringify(f.image_position)}`,
        "image_position",
      );
    return f;
  }
  return DEFAULT_PROMPT_FORMAT;
}

export function writePromptFormat(dir: string, format: PromptFormat): void {
  writeFileSync(join(dir, PROMPT_FORMAT_FILE), `${JSON.stringify(format, null, 2)}\n`);
}

/**
 * `prompt` with its images placed: unchanged when it has `<image>` already; else where the training data put
 * the image for this text, or the model's majority placement, separated by a newline as LLaVA's data does.
 */
export function placeImages(
  prompt: string,
  numImages: number,
  format: PromptFormat = DEFAULT_PROMPT_FORMAT,
): string {
  if (numImages === 0 || prompt.includes(IMAGE_TOKEN)) return prompt;
  const position = format.prompts?.[prompt.trim()] ?? format.image_position;
  const tokens = Array.from({ length: numImages }, () => IMAGE_TOKEN).join("\n");
  return position === "before" ? `${tokens}\n${prompt}` : `${prompt}\n${tokens}`;
}
