// The tutorial's data: LLaVA-CC3M-Pretrain-595K's chat.json with its images.zip, read in place (no
// extraction), turned into training batches by the model's tokenizer and image processor.
//
//   node dataset.mjs --model my-llava --data LLaVA-CC3M-Pretrain-595K/chat.json --images LLaVA-CC3M-Pretrain-595K/images.zip
//
// Without --data it draws a small CC3M-style set; without --model it prints records only.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { generateSyntheticCaptions, LlavaDataLoader, LlavaDataset } from "@llava-ts/datasets";

export async function main(argv = []) {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" },
      data: { type: "string" },
      images: { type: "string" },
      "batch-size": { type: "string", default: "4" },
      workers: { type: "string", default: "0" },
    },
  });
  let { data, images } = values;
  if (!data) {
    const set = await generateSyntheticCaptions({
      out: mkdtempSync(join(tmpdir(), "llava-data-")),
      count: 16,
      size: 28,
    });
    data = set.chatJson;
    images = set.imagesZip;
  }
  const dataset = LlavaDataset.open({ file: data, images, onError: "skip" });
  console.log(
    `${dataset.length} records in ${data}; record 0:`,
    JSON.stringify(dataset.get(0).conversations),
  );
  if (!values.model) return { records: dataset.length };

  // The model folder says how many tokens an image takes and which id pads.
  const config = JSON.parse(readFileSync(join(values.model, "config.json"), "utf8"));
  const imageSeqLength = config.image_seq_length;
  const loader = new LlavaDataLoader({
    dataset,
    processor: { tokenizer: values.model, imageProcessor: values.model, llava: { imageSeqLength } },
    batchSize: Number(values["batch-size"]),
    collate: { padTokenId: config.pad_token_id },
    numWorkers: Number(values.workers),
    seed: 42,
  });
  let batches = 0;
  for await (const batch of loader.epoch(0)) {
    if (batches === 0)
      console.log(
        `batch: input_ids [${batch.batchSize}, ${batch.seqLength}], pixel_values [${batch.pixelShape}]`,
      );
    batches++;
  }
  await loader.close();
  console.log(`${batches} batches; ${JSON.stringify(loader.stats().skipped.byReason)} skipped`);
  return { records: dataset.length, batches };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main(process.argv.slice(2));
