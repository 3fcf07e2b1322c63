// Chapter 3 of the tutorial: inference with the trained LoRA adapter on top of the base model, and with
// the adapter merged into the weights (merge_and_unload) — the two give the same greedy answer.
//
//   node infer.mjs --model my-llava --adapter out --image cat.jpg --prompt "What is in the picture?"
//
// On the demo's trained model (`llava demo --out .demo`), a held-out image is captioned as in its table:
//
//   node infer.mjs --model .demo/llava-base --adapter .demo/adapter-zh \
//     --image .demo/data/held-out-zh/images/GCC_train_000000001.jpg
//
// A model answers best when asked the way it was trained: the image goes where its training data put it
// (prompt_format.json, which llava train writes next to the adapter or model), it is fitted to the tower as
// config.json says (image_aspect_ratio), and without --prompt the training data's most frequent prompt is
// asked. --model is a LLaVA folder (../01-build-model), --adapter a LoRA adapter folder (../03-train with
// --train-type use_lora): a tiny model trained for a few steps answers noise. Without --image it captions a
// drawn one.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { placeImages, readPromptFormat } from "@llava-ts/cli";
import { initBackend } from "@llava-ts/core";
import { generateSyntheticCaptions } from "@llava-ts/datasets";
import { LlavaForConditionalGeneration, llavaImageMode } from "@llava-ts/llava";
import { loadAdapter, mergeAndUnload } from "@llava-ts/lora";
import { ClipImageProcessor, LlavaProcessor } from "@llava-ts/processor";
import { Tokenizer } from "@llava-ts/tokenizer";
import * as tf from "@tensorflow/tfjs-core";

/** The question asked when none is given: LLaVA's captioning prompt, or the training data's favourite. */
const CAPTION_PROMPT = "Provide a brief description of the given image.";

/** Greedy answer to `prompt` (its `<image>` already placed) about one image, decoded as it streams. */
export async function answer(model, modelDir, image, prompt, maxNewTokens = 32) {
  const tokenizer = await Tokenizer.fromPretrained(modelDir);
  const imageProcessor = await ClipImageProcessor.fromPretrained(modelDir);
  const processor = new LlavaProcessor(tokenizer, { imageSeqLength: model.config.image_seq_length });
  const { inputIds } = processor.buildPrompt(prompt); // system + the user turn, generation prompt
  const { data, shape } = await imageProcessor.preprocess(image, { mode: llavaImageMode(model.config) });
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
      prompt: { type: "string" },
    },
  });
  const { model: modelDir, adapter } = values;
  if (!modelDir) {
    console.error("usage: node infer.mjs --model DIR [--adapter DIR] [--image FILE] [--prompt TEXT]");
    console.error(
      "  (a LLaVA folder from ../01-build-model, an adapter from ../03-train --train-type use_lora)",
    );
    process.exitCode = 2;
    return;
  }
  await initBackend();
  let { image } = values;
  if (!image) {
    const set = await generateSyntheticCaptions({
      out: mkdtempSync(join(tmpdir(), "llava-infer-")),
      count: 1,
      size: 28,
      images: "folder",
    });
    image = join(set.imagesDir, set.records[0].image);
  }
  // What training recorded (the adapter's record first): where <image> goes, and the prompts it saw.
  const format = readPromptFormat(adapter, modelDir);
  const prompt = placeImages(
    values.prompt ?? Object.keys(format.prompts ?? {})[0] ?? CAPTION_PROMPT,
    1,
    format,
  );
  console.log(`prompt: ${JSON.stringify(prompt)}`);

  const model = LlavaForConditionalGeneration.fromPretrained(modelDir);
  if (adapter) loadAdapter(model, adapter);
  const withAdapter = await answer(model, modelDir, image, prompt);
  console.log(`${adapter ? "base + adapter" : "base model    "}: ${withAdapter}`);
  let merged;
  if (adapter) {
    mergeAndUnload(model); // the LoRA products are added into the base weights; no LoRA layers remain
    merged = await answer(model, modelDir, image, prompt);
    console.log(`merged:         ${merged}`);
  }
  model.dispose();
  return { prompt, withAdapter, merged };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main(process.argv.slice(2));
