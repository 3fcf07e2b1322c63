// Test-only helpers: each source format written from the synthetic CC3M images (not exported by index.ts).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSyntheticCaptions, type SyntheticCaptions } from "../src/synthetic-captions.js";
import { writeZip } from "../src/zip-writer.js";

export const SHAREGPT_PREFIX = "sharegpt4o/images/mnt/petrelfs/share_data/gpt4o/";

export interface TestFormats {
  cc3m: SyntheticCaptions;
  /** ShareGPT-4o JSONL (multi-turn) whose zip keeps the images under SHAREGPT_PREFIX. */
  sharegpt: { file: string; zip: string };
  /** TextOCR-GPT4o train.jsonl (file name + caption); images in cc3m.imagesDir. */
  textocr: { file: string };
  /** LLaVA-Instruct-style JSON list: multi-turn, plus one text-only record. */
  instruct: { file: string };
}

export async function writeTestFormats(out: string, count = 8, size = 32): Promise<TestFormats> {
  const cc3m = await generateSyntheticCaptions({ out, count, size, seed: 1 });
  const recs = cc3m.records;
  const sharegptFile = join(out, "sharegpt4o.jsonl");
  writeFileSync(
    sharegptFile,
    `${recs
      .map((r) =>
        JSON.stringify({
          image: r.image,
          width: size,
          height: size,
          conversations: [
            { from: "human", value: "<image>\nWhat shape is in the picture?" },
            { from: "gpt", value: `It is a ${r.shapes[0].shape}.` },
            { from: "human", value: "And its colour?" },
            { from: "gpt", value: `${r.shapes[0].colour}.` },
          ],
        }),
      )
      .join("\n")}\n`,
  );
  const sharegptZip = join(out, "sharegpt4o.zip");
  writeZip(
    sharegptZip,
    recs.map((r) => ({
      name: SHAREGPT_PREFIX + r.image,
      data: readFileSync(join(cc3m.imagesDir!, r.image)),
    })),
  );
  const textocrFile = join(out, "train.jsonl");
  writeFileSync(
    textocrFile,
    recs.map((r) => JSON.stringify({ filename: r.image, caption: r.conversations[1].value })).join("\n"),
  );
  const instructFile = join(out, "llava_instruct.json");
  const instruct = recs.map((r) => ({
    id: r.id,
    image: r.image,
    conversations: [
      { from: "human", value: "<image>\nDescribe the picture." },
      { from: "gpt", value: r.conversations[1].value },
      { from: "human", value: "Where is it?" },
      { from: "gpt", value: `On the ${r.shapes[0].position}.` },
    ],
  }));
  instruct.push({
    id: "text-only",
    conversations: [
      { from: "human", value: "Say hi." },
      { from: "gpt", value: "hi" },
    ],
  } as (typeof instruct)[number]);
  writeFileSync(instructFile, JSON.stringify(instruct, null, 1));
  return {
    cc3m,
    sharegpt: { file: sharegptFile, zip: sharegptZip },
    textocr: { file: textocrFile },
    instruct: { file: instructFile },
  };
}
