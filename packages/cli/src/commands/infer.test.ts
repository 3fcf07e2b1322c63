// llava infer's sampling, batches, requests file, --json, image placement and image mode on the tiny LLaVA.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { heapCacheStats, maxHeap, setMaxHeap } from "@llava-ts/core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelAndData, runMain as run, useTinyFixture } from "../../test/tiny-llava.js";
import { LlavaSession } from "../llava-session.js";
import { writePromptFormat } from "../prompt-format.js";

const fx = useTinyFixture();
let images: string[];

beforeAll(async () => {
  images = fx.data.records.slice(0, 3).map((r) => join(fx.data.imagesDir!, r.image));
});
afterAll(() => setMaxHeap());

const json = (out: string) =>
  out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("llava infer", () => {
  const ask = (...more: string[]) => ["infer", "--model", fx.model, "--max-new-tokens", "6", ...more];

  it("samples with --do-sample, reproducibly for a seed", async () => {
    const sampled = ask(
      "--image",
      images[0],
      "--prompt",
      "Describe it.",
      "--do-sample",
      "--temperature",
      "1.5",
    );
    const a = await run([...sampled, "--seed", "5"]);
    const b = await run([...sampled, "--seed", "5"]);
    const c = await run([...sampled, "--seed", "6"]);
    const greedy = await run(ask("--image", images[0], "--prompt", "Describe it."));
    expect(a.code, a.err).toBe(0);
    expect(a.out).toBe(b.out);
    expect(a.out).not.toBe(c.out);
    expect(a.out).not.toBe(greedy.out);
    expect((await run([...sampled, "--top-p", "0"])).err).toContain("topP must be in (0, 1]");
  });

  it("answers several images in one batch as it answers each alone", async () => {
    const batch = await run(
      ask(...images.flatMap((i) => ["--image", i]), "--prompt", "Describe it.", "--json"),
    );
    expect(batch.code, batch.err).toBe(0);
    const answers = json(batch.out);
    expect(answers.map((a) => a.image)).toEqual(images);
    for (const [k, img] of images.entries()) {
      const alone = await run(ask("--image", img, "--prompt", "Describe it."));
      expect(`${answers[k].answer}\n`).toBe(alone.out);
    }
    const plain = await run(ask(...images.flatMap((i) => ["--image", i]), "--prompt", "Describe it."));
    expect(plain.out.trim().split("\n")).toEqual(answers.map((a) => `[${a.image}] ${a.answer}`));
  });

  it("reads a JSONL of requests (paths relative to it), left-padding prompts of different lengths", async () => {
    const file = join(fx.data.imagesDir!, "requests.jsonl");
    const rows = [
      { image: fx.data.records[0].image, prompt: "Describe it." },
      {
        image: fx.data.records[1].image,
        prompt: "Write a terse but informative summary of the picture, please.",
      },
      {
        image: [fx.data.records[2].image],
        conversations: [{ from: "human", value: "What shape?\n<image>" }],
      },
    ];
    writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
    const r = await run(ask("--requests", file, "--json", "--batch-size", "3"));
    expect(r.code, r.err).toBe(0);
    const answers = json(r.out);
    expect(answers.map((a) => a.prompt)).toEqual([
      "<image>\nDescribe it.",
      "<image>\nWrite a terse but informative summary of the picture, please.",
      "What shape?\n<image>",
    ]);
    const one = await run(ask("--requests", file, "--json", "--batch-size", "1"));
    expect(json(one.out)).toEqual(answers);
    writeFileSync(file, '{"image": "a.png"}\n');
    expect((await run(ask("--requests", file))).err).toContain(
      `${file} line 1: needs "prompt" or "conversations"`,
    );
  });

  it("puts <image> where prompt_format.json says the training data had it", async () => {
    const model = join(fx.root, "model-image-after");
    cpSync(fx.model, model, { recursive: true });
    writePromptFormat(model, { image_position: "before", prompts: { "Describe it.": "after" } });
    const r = await run([
      "infer",
      "--model",
      model,
      "--max-new-tokens",
      "6",
      "--image",
      images[0],
      "--json",
      "--prompt",
      "Describe it.",
    ]);
    expect(json(r.out)[0].prompt).toBe("Describe it.\n<image>");
    const explicit = await run(ask("--image", images[0], "--json", "--prompt", "Describe it.\n<image>"));
    expect(json(r.out)[0].answer).toBe(json(explicit.out)[0].answer);
    const other = await run([
      "infer",
      "--model",
      model,
      "--image",
      images[0],
      "--json",
      "--prompt",
      "Other?",
    ]);
    expect(json(other.out)[0].prompt).toBe("<image>\nOther?");
  });

  it("pads or crops as --image-mode says, defaulting to config.json's image_aspect_ratio", async () => {
    const wide = join(fx.root, "wide.png");
    await sharp({ create: { width: 56, height: 20, channels: 3, background: { r: 250, g: 10, b: 10 } } })
      .png()
      .toFile(wide);
    const model = join(fx.root, "model-pad");
    cpSync(fx.model, model, { recursive: true });
    const config = JSON.parse(readFileSync(join(model, "config.json"), "utf8"));
    writeFileSync(join(model, "config.json"), JSON.stringify({ ...config, image_aspect_ratio: "pad" }));
    const session = await LlavaSession.load(model);
    expect(session.imageMode).toBe("pad");
    const pad = await session.pixels(wide);
    const crop = await session.pixels(wide, "crop");
    session.dispose();
    expect(pad).not.toEqual(crop);
    const q = ["--image", wide, "--prompt", "Describe it.", "--max-new-tokens", "6"];
    const byConfig = await run(["infer", "--model", model, ...q]);
    const byFlag = await run(["infer", "--model", fx.model, "--image-mode", "pad", ...q]);
    expect(byConfig.out).toBe(byFlag.out);
  });
});

describe("llava chat", () => {
  it("takes the decoding flags and places the image as infer does", async () => {
    const r = await run(
      [
        "chat",
        "--model",
        fx.model,
        "--image",
        images[0],
        "--max-new-tokens",
        "4",
        "--do-sample",
        "--seed",
        "3",
      ],
      ["What is in the picture?", ""],
    );
    expect(r.code, r.err).toBe(0);
    const again = await run(
      [
        "chat",
        "--model",
        fx.model,
        "--image",
        images[0],
        "--max-new-tokens",
        "4",
        "--do-sample",
        "--seed",
        "3",
      ],
      ["What is in the picture?", ""],
    );
    expect(again.out).toBe(r.out);
  });
});

describe("--max-heap", () => {
  it("infer, chat and eval load under the cap given: the weights come and go, the results stay", async () => {
    // The tiny model's ~20 MB of weights are past half of a 24 MB cap: it loads offloaded.
    const cap = ["--max-heap", "24MB"];
    const q = ["--image", images[0], "--prompt", "Describe it.", "--max-new-tokens", "6"];
    const resident = await run(["infer", "--model", fx.model, ...q]);
    setMaxHeap();
    const before = heapCacheStats().broughtIn;
    const offloaded = await run(["infer", "--model", fx.model, ...q, ...cap]);
    expect(offloaded.code, offloaded.err).toBe(0);
    expect(maxHeap()).toBe(24e6); // MB as transformers' max_shard_size reads it: 10^6 bytes
    expect(heapCacheStats().broughtIn).toBeGreaterThan(before);
    expect(offloaded.out).toBe(resident.out);

    const lines = ["What is in the picture?", ""];
    const chat = ["chat", "--model", fx.model, "--image", images[0], "--max-new-tokens", "4"];
    setMaxHeap();
    const chatResident = await run(chat, lines);
    const chatOffloaded = await run([...chat, ...cap], lines);
    expect(chatOffloaded.code, chatOffloaded.err).toBe(0);
    expect(chatOffloaded.out).toBe(chatResident.out);

    const evalArgs = ["eval", ...modelAndData(fx)];
    setMaxHeap();
    const e1 = JSON.parse((await run([...evalArgs, "--loss-only", "--json"])).out);
    const e2 = await run([...evalArgs, "--loss-only", "--json", ...cap]);
    expect(e2.code, e2.err).toBe(0);
    expect(JSON.parse(e2.out).eval_loss).toBeCloseTo(e1.eval_loss, 5);

    for (const command of ["infer", "chat", "eval"]) {
      const bad = await run([command, "--model", fx.model, "--max-heap", "lots"]);
      expect(bad.code).not.toBe(0);
      expect(bad.err).toMatch(/max heap: cannot read "lots" as a size/);
    }
  });
});
