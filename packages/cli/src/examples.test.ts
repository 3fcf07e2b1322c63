// Each example of examples/ run as its main() — the tutorial's chapters in order, each taking the folder
// the previous one wrote: 01 builds a tiny LLaVA, 02 batches a dataset with it, 03 trains it, 04 answers
// with 03's adapter and merged.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { generateSyntheticCaptions } from "@llava-ts/datasets";
import { beforeAll, describe, expect, it } from "vitest";
import { writePromptFormat } from "./prompt-format.js";

const examples = join(import.meta.dirname, "../../../examples");
const load = (path: string) => import(/* @vite-ignore */ join(examples, path));
const root = mkdtempSync(join(tmpdir(), "llava-examples-"));
let model: string;

interface Part {
  trainable: number;
  total: number;
}

beforeAll(async () => {
  await initBackend();
});

describe("examples", () => {
  it("01-build-model builds a tiny LLaVA, or from given checkpoints", async () => {
    const { main, tinyCheckpoints } = await load("01-build-model/build-model.mjs");
    model = await main(["--out", join(root, "llava")]);
    expect(existsSync(join(model, "config.json"))).toBe(true);
    const { vision, llm } = await tinyCheckpoints(root);
    const out = join(root, "given");
    expect(await main(["--vision", vision, "--llm", llm, "--out", out])).toBe(out);
    expect(existsSync(join(out, "tokenizer.json"))).toBe(true);
  });

  it("02-dataset reads a CC3M-style set and batches it with a model's processor", async () => {
    const { main } = await load("02-dataset/dataset.mjs");
    expect((await main([])).records).toBe(16);
    const set = await generateSyntheticCaptions({ out: join(root, "ex02"), count: 6, size: 28 });
    const r = await main([
      "--model",
      model,
      "--data",
      set.chatJson,
      "--images",
      set.imagesZip!,
      "--batch-size",
      "4",
    ]);
    expect(r).toEqual({ records: 6, batches: 2 });
  });

  it("03-train trains every strategy from one loss to four, or one into --output-dir", async () => {
    const { main, finalLoss } = await load("03-train/train.mjs");
    const results = await main(["--model", model]);
    expect(Object.keys(results)).toEqual(["use_lora", "freeze_vision", "none", "projector_only"]);
    const runs = Object.values(results) as { losses: number[]; summary: { parts: Record<string, Part> } }[];
    // Same model, data and seed: step 1 has one loss (no update yet; LoRA's B starts at 0) …
    for (const r of runs) {
      expect(r.losses).toHaveLength(30);
      expect(r.losses[0]).toBeCloseTo(runs[0].losses[0], 5);
      expect(finalLoss(r.losses)).toBeLessThan(r.losses[0]); // … every strategy learns …
    }
    // … and each ends somewhere else, because each trains other parameters.
    const ends = runs.map((r) => finalLoss(r.losses));
    for (let i = 0; i < ends.length; i++)
      for (let j = i + 1; j < ends.length; j++) expect(Math.abs(ends[i] - ends[j])).toBeGreaterThan(1e-3);
    const trains = (s: string, part: string) => results[s].summary.parts[part].trainable;
    expect(trains("projector_only", "language_model")).toBe(0);
    expect(trains("freeze_vision", "vision_tower")).toBe(0);
    expect(trains("none", "vision_tower")).toBe(results.none.summary.parts.vision_tower.total);
    expect(trains("use_lora", "language_model")).toBeLessThan(trains("freeze_vision", "language_model"));

    const adapter = join(root, "adapter");
    const lora = await main([
      "--model",
      model,
      "--train-type",
      "use_lora",
      "--output-dir",
      adapter,
      "--learning-rate",
      "1e-2",
      "--max-steps",
      "4",
    ]);
    expect(Object.keys(lora)).toEqual(["use_lora"]);
    expect(existsSync(join(adapter, "adapter_model.safetensors"))).toBe(true);
  }, 600_000); // 4 × 30 steps: about a minute of one core's time

  it("04-infer answers with 03's adapter and merged, identically", async () => {
    const { main } = await load("04-infer/infer.mjs");
    const { prompt, withAdapter, merged } = await main([
      "--model",
      model,
      "--adapter",
      join(root, "adapter"),
    ]);
    expect(prompt).toBe("<image>\nProvide a brief description of the given image."); // LLaVA's default
    expect(typeof withAdapter).toBe("string");
    expect(merged).toBe(withAdapter);
  });

  it("04-infer asks as the model was trained: prompt_format.json's placement and favourite prompt", async () => {
    const { main } = await load("04-infer/infer.mjs");
    const adapter = join(root, "adapter");
    writePromptFormat(adapter, {
      image_position: "after",
      prompts: { "请简要描述这张图片。": "after", "用一句话描述图片的内容。": "before" },
    });
    expect((await main(["--model", model, "--adapter", adapter])).prompt).toBe(
      "请简要描述这张图片。\n<image>",
    );
    const asked = await main([
      "--model",
      model,
      "--adapter",
      adapter,
      "--prompt",
      "用一句话描述图片的内容。",
    ]);
    expect(asked.prompt).toBe("<image>\n用一句话描述图片的内容。");
    expect(asked.merged).toBe(asked.withAdapter);
  });

  it("03 and 04 say what they need without --model", async () => {
    for (const path of ["03-train/train.mjs", "04-infer/infer.mjs"]) {
      const { main } = await load(path);
      const code = process.exitCode;
      expect(await main([])).toBeUndefined();
      expect(process.exitCode).toBe(2);
      process.exitCode = code;
    }
  });
});
