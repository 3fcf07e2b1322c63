// Each example of examples/ run as is (its main(), on tiny generated models and data), and with paths.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@llava-ts/core";
import { generateSyntheticCaptions } from "@llava-ts/datasets";
import { beforeAll, describe, expect, it } from "vitest";

const examples = join(import.meta.dirname, "../../../examples");
const load = (path: string) => import(/* @vite-ignore */ join(examples, path));

beforeAll(async () => {
  await initBackend();
});

describe("examples", () => {
  it("01-build-model builds a tiny LLaVA, or from given checkpoints", async () => {
    const { main, tinyCheckpoints } = await load("01-build-model/build-model.mjs");
    const dir = await main([]);
    expect(existsSync(join(dir, "config.json"))).toBe(true);
    const root = mkdtempSync(join(tmpdir(), "ex01-"));
    const { vision, llm } = await tinyCheckpoints(root);
    const out = join(root, "given");
    expect(await main(["--vision", vision, "--llm", llm, "--out", out])).toBe(out);
    expect(existsSync(join(out, "tokenizer.json"))).toBe(true);
  });

  it("02-dataset reads a CC3M-style set and batches it with a model's processor", async () => {
    const { main } = await load("02-dataset/dataset.mjs");
    expect((await main([])).records).toBe(16);
    const build = await load("01-build-model/build-model.mjs");
    const model = await build.main([]);
    const set = await generateSyntheticCaptions({
      out: mkdtempSync(join(tmpdir(), "ex02-")),
      count: 6,
      size: 28,
    });
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

  it("03-train trains every strategy", async () => {
    const { main } = await load("03-train/train.mjs");
    const results = await main([]);
    expect(Object.keys(results)).toEqual(["use_lora", "freeze_vision", "none", "projector_only"]);
    for (const losses of Object.values(results) as number[][]) {
      expect(losses).toHaveLength(2);
      for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    }
  });

  it("04-infer answers with the adapter and merged, identically", async () => {
    const { main } = await load("04-infer/infer.mjs");
    const { withAdapter, merged } = await main([]);
    expect(typeof withAdapter).toBe("string");
    expect(merged).toBe(withAdapter);
  });
});
