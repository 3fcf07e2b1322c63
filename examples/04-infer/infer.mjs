// Chapter 3 of the tutorial: inference with the trained LoRA adapter on top of the base model, and with
// the adapter merged into the weights (merge_and_unload) — the two give the same greedy answer.
//
//   node infer.mjs --model my-llava --adapter out --image cat.jpg --prompt "What is in the picture?"
//
// Without --model it builds a tiny LLaVA, trains an adapter for two steps and captions a drawn image.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { initBackend } from "@llava-ts/core";
import { generateSyntheticCaptions } from "@llava-ts/datasets";
import { LlavaForConditionalGeneration } from "@llava-ts/llava";
import { loadAdapter, mergeAndUnload } from "@llava-ts/lora";
import { ClipImageProcessor, LlavaProcessor } from "@llava-ts/processor";
import { Tokenizer } from "@llava-ts/tokenizer";
import * as tf from "@tensorflow/tfjs-core";
import { main as buildModel } from "../01-build-model/build-model.mjs";
import { train } from "../03-train/train.mjs";

/** Greedy answer about one image, printed as it streams. */
export async function answer(model, modelDir, image, prompt, maxNewTokens = 32) {
  const tokenizer = await Tokenizer.fromPretrained(modelDir);
  const imageProcessor = await ClipImageProcessor.fromPretrained(modelDir);
  const processor = new LlavaProcessor(tokenizer, { imageSeqLength: model.config.image_seq_length });
  const { inputIds } = processor.buildPrompt(prompt); // system + "<image>\n" + prompt, generation prompt
  const { data, shape } = await imageProcessor.preprocess(image);
  const pixelValues = tf.tensor4d(data, [1, ...shape]);
  const ids = [];
  for await (const step of model.stream(inputIds, {
    pixelValues,
    maxNewTokens,
    eosTokenId: tokenizer.eosTokenId,
  })) {
    if (step.tokens[0] === tokenizer.eosTokenId) break;
    ids.push(step.tokens[0]);
  }
  pixelValues.dispose();
  return tokenizer.decode(ids, { skipSpecialTokens: true });
}

export async function main(argv = []) {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" },
      adapter: { type: "string" },
      image: { type: "string" },
      prompt: { type: "string", default: "Provide a brief description of the given image." },
    },
  });
  await initBackend();
  let { model: modelDir, adapter, image } = values;
  if (!modelDir) {
    const root = mkdtempSync(join(tmpdir(), "llava-infer-"));
    modelDir = await buildModel(["--out", join(root, "llava")]);
    const set = await generateSyntheticCaptions({
      out: join(root, "data"),
      count: 8,
      size: 28,
      images: "folder",
    });
    adapter = join(root, "adapter");
    await train({
      model: modelDir,
      data: set.chatJson,
      images: set.imagesDir,
      strategy: "use_lora",
      outputDir: adapter,
      steps: 2,
      lr: 1e-2,
    });
    image = join(set.imagesDir, set.records[0].image);
  }
  const model = LlavaForConditionalGeneration.fromPretrained(modelDir);
  if (adapter) loadAdapter(model, adapter);
  const withAdapter = await answer(model, modelDir, image, values.prompt);
  console.log(`base + adapter: ${withAdapter}`);
  let merged;
  if (adapter) {
    mergeAndUnload(model); // the LoRA products are added into the base weights; no LoRA layers remain
    merged = await answer(model, modelDir, image, values.prompt);
    console.log(`merged:         ${merged}`);
  }
  model.dispose();
  return { withAdapter, merged };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main(process.argv.slice(2));
