// Test fixtures: a tiny LLaVA built through the real path (random CLIP + Qwen2.5-shaped checkpoints with
// the bundled tokenizer → buildLlava), a few synthetic captioned images, and an IO that captures output.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSyntheticCaptions, type SyntheticCaptions } from "@llava-ts/datasets";
import { buildLlava } from "@llava-ts/llava";
import type { TinySizes } from "../src/demo/tiny-checkpoints.js";
import { writeTinyClip, writeTinyQwen } from "../src/demo/tiny-checkpoints.js";
import type { CliIO } from "../src/io.js";

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

export async function tinyFixture(sizes: TinySizes = TEST_SIZES): Promise<TinyFixture> {
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
