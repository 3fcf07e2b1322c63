// Chapter 1 of the tutorial: build a LLaVA from a CLIP vision checkpoint and a Qwen2.5 checkpoint.
//
//   node build-model.mjs --vision clip-vit-large-patch14-336 --llm Qwen2.5-3B-Instruct --out my-llava
//
// Without arguments it makes tiny random CLIP and Qwen2.5 checkpoints (with the real Qwen2.5 tokenizer)
// in a temporary folder and builds from those.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { writeTinyClip, writeTinyQwen } from "@llava-ts/cli/internal"; // the demo's tiny checkpoints
import { initBackend } from "@llava-ts/core";
import { buildLlava, LlavaForConditionalGeneration } from "@llava-ts/llava";

export const TINY = {
  imageSize: 28,
  patchSize: 14,
  visionHidden: 32,
  visionLayers: 2,
  textHidden: 32,
  textLayers: 1,
  textIntermediate: 64,
  initializerRange: 0.1,
};

/** Tiny random checkpoints in the Hub's layouts, for trying everything without downloads. */
export async function tinyCheckpoints(root) {
  const vision = join(root, "tiny-clip");
  const llm = join(root, "tiny-qwen2.5");
  await writeTinyClip(vision, TINY, 1);
  await writeTinyQwen(llm, TINY, 2);
  return { vision, llm };
}

export async function main(argv = []) {
  const { values } = parseArgs({
    args: argv,
    options: { vision: { type: "string" }, llm: { type: "string" }, out: { type: "string" } },
  });
  await initBackend();
  const root = mkdtempSync(join(tmpdir(), "llava-example-"));
  const { vision, llm } = values.vision && values.llm ? values : await tinyCheckpoints(root);
  const out = values.out ?? join(root, "llava");

  const built = await buildLlava({ vision, llm, out, seed: 0 });
  console.log(`<image> → ${built.imageTokenIndex}, pad → ${built.padTokenId}, ${built.resize.newRows} rows`);

  // The folder loads as an HF llava checkpoint.
  const model = LlavaForConditionalGeneration.fromPretrained(out);
  const params = [...model.namedParameters()].reduce((n, [, p]) => n + p.size, 0);
  console.log(`built ${out}: ${params.toLocaleString("en-US")} parameters`);
  model.dispose();
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main(process.argv.slice(2));
