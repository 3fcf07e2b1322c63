// Test fixtures: a tiny LLaVA built through the real path (random CLIP + Qwen2.5-shaped checkpoints with
// the bundled tokenizer → buildLlava), a few synthetic captioned images, an IO that captures output, and
// `llava …` run through main() with it.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { generateSyntheticCaptions, type SyntheticCaptions } from "@llava-ts/datasets";
import { buildLlava } from "@llava-ts/llava";
import { beforeAll } from "vitest";
import type { TinySizes } from "../src/demo/tiny-checkpoints.js";
import { writeTinyClip, writeTinyQwen } from "../src/demo/tiny-checkpoints.js";
import type { CliIO } from "../src/io.js";
import { main } from "../src/main.js";

export const TEST_SIZES: TinySizes = {
  imageSize: 28,
  patchSize: 14,
  visionHidden: 32,
  visionLayers: 2,
  textHidden: 32,
  textLayers: 1,
  textIntermediate: 64,
  initializerRange: 0.1,
};

export interface TinyFixture {
  root: string;
  clip: string;
  qwen: string;
  model: string;
  data: SyntheticCaptions;
}

/** Selects the backend (as every command does), then builds the tiny LLaVA and its data in a temp folder. */
export async function tinyFixture(sizes: TinySizes = TEST_SIZES): Promise<TinyFixture> {
  await initBackend();
  const root = mkdtempSync(join(tmpdir(), "llava-cli-"));
  const clip = join(root, "clip");
  const qwen = join(root, "qwen");
  const model = join(root, "llava");
  await writeTinyClip(clip, sizes, 1);
  await writeTinyQwen(qwen, sizes, 2);
  await buildLlava({ vision: clip, llm: qwen, out: model, seed: 3 });
  const data = await generateSyntheticCaptions({ out: join(root, "data"), count: 8, size: 28, seed: 4 });
  return { root, clip, qwen, model, data };
}

/**
 * Call at a test file's top level: the fixture is built before the file's tests run (before the file's
 * own beforeAll hooks), and the object returned holds it from then on.
 */
export function useTinyFixture(): TinyFixture {
  const fx = {} as TinyFixture;
  beforeAll(async () => {
    Object.assign(fx, await tinyFixture());
  });
  return fx;
}

export interface CapturedIO extends CliIO {
  out(): string;
  err(): string;
  /** Each stdout write, in order (to see streaming). */
  writes: string[];
}

export function captureIO(stdinLines?: readonly string[]): CapturedIO {
  const writes: string[] = [];
  let err = "";
  return {
    writes,
    stdout: { write: (s: string) => writes.push(s) },
    stderr: {
      write: (s: string) => {
        err += s;
      },
    },
    stdin: stdinLines
      ? (async function* () {
          yield* stdinLines;
        })()
      : undefined,
    out: () => writes.join(""),
    err: () => err,
  };
}

export interface MainRun {
  code: number;
  out: string;
  err: string;
  /** Each stdout write, in order. */
  writes: string[];
}

/** `llava <argv>` through main() in this process (stdin from `stdinLines`), its output captured. */
export async function runMain(argv: string[], stdinLines?: readonly string[]): Promise<MainRun> {
  const io = captureIO(stdinLines);
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err(), writes: io.writes };
}

/** The fixture's model, chat.json and image folder, as train and eval take them. */
export function modelAndData(fx: TinyFixture): string[] {
  return ["--model", fx.model, "--data", fx.data.chatJson, "--images", fx.data.imagesDir!];
}

/** `llava train` on the fixture's model and data, then `extra`. */
export function trainArgs(fx: TinyFixture, ...extra: string[]): string[] {
  return ["train", ...modelAndData(fx), ...extra];
}

/**
 * A LoRA adapter trained enough to change answers (a new adapter's lora_B is zero): two steps of two
 * records at lr 1e-2, only the final save.
 */
export const ADAPTER_FLAGS = [
  ...["--train-type", "use_lora", "--max-steps", "2", "--learning-rate", "1e-2"],
  ...["--per-device-train-batch-size", "2", "--save-strategy", "no"],
];

/** `llava infer` of `model` on one image and prompt, then `extra`. */
export function inferArgs(model: string, image: string, prompt: string, ...extra: string[]): string[] {
  return ["infer", "--model", model, "--image", image, "--prompt", prompt, ...extra];
}

/** `llava merge` of `adapter` into `model`, written to `out`, then `extra`. */
export function mergeArgs(model: string, adapter: string, out: string, ...extra: string[]): string[] {
  return ["merge", "--model", model, "--adapter", adapter, "--out", out, ...extra];
}

/** `llava build` from the fixture's CLIP and Qwen checkpoints into `out`, then `extra`. */
export function buildArgs(fx: TinyFixture, out: string, ...extra: string[]): string[] {
  return ["build", "--vision", fx.clip, "--llm", fx.qwen, "--out", out, ...extra];
}
