// Each example of examples/ run as its main() — the tutorial's chapters in order, each taking the folder
// the previous one wrote: 01 builds a tiny LLaVA, 02 batches a dataset with it, 03 trains it, 04 answers
// with 03's adapter and merged.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { generateSyntheticCaptions } from "@llava-ts/datasets";
import { beforeAll, describe, expect, it } from "vitest";

const examples = join(import.meta.dirname, "../../../examples");
const load = (path: string) => import(/* @vite-ignore */ join(examples, path));
const root = mkdtempSync(join(tmpdir(), "llava-examples-"));
let model: string;

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

  it("03-train trains every strategy, or one into --output-dir", async () => {
    const { main } = await load("03-train/train.mjs");
    const results = await main(["--model", model]);
    expect(Object.keys(results)).toEqual(["use_lora", "freeze_vision", "none", "projector_only"]);
    for (const losses of Object.values(results) as number[][]) {
      expect(losses).toHaveLength(2);
      for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    }
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
    ]);
    expect(Object.keys(lora)).toEqual(["use_lora"]);
    expect(existsSync(join(adapter, "adapter_model.safetensors"))).toBe(true);
  });

  it("04-infer answers with 03's adapter and merged, identically", async () => {
    const { main } = await load("04-infer/infer.mjs");
    const { withAdapter, merged } = await main(["--model", model, "--adapter", join(root, "adapter")]);
    expect(typeof withAdapter).toBe("string");
    expect(merged).toBe(withAdapter);
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
