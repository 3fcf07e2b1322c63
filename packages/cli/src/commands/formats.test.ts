// llava build's LLaVA options and key layouts, merge's layout, and TextOCR-GPT4o data found by content.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsCheckpoint } from "@llava-ts/core";
import { checkpointLayout } from "@llava-ts/llava";
import { describe, expect, it } from "vitest";
import { buildArgs, inferArgs, mergeArgs, runMain as run, useTinyFixture } from "../../test/tiny-llava.js";
import { LlavaSession } from "../llava-session.js";

const fx = useTinyFixture();

function layoutOf(dir: string) {
  const ckpt = SafetensorsCheckpoint.open(dir);
  try {
    return checkpointLayout(ckpt.keys());
  } finally {
    ckpt.close();
  }
}

describe("llava build options and layouts", () => {
  it("records the feature layer, strategy and image mode, and writes transformers ≥ 4.52's keys", async () => {
    const out = join(fx.root, "built-current");
    const r = await run(
      buildArgs(
        fx,
        out,
        ...["--vision-feature-layer", "-1", "--vision-feature-select-strategy", "full"],
        ...["--image-mode", "pad", "--save-layout", "current"],
      ),
    );
    expect(r.code, r.err).toBe(0);
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(config.vision_feature_layer).toBe(-1);
    expect(config.vision_feature_select_strategy).toBe("full");
    expect(config.image_aspect_ratio).toBe("pad");
    expect(layoutOf(out)).toBe("current");
    expect(r.out).toContain("vision feature layer -1 (full), image mode pad, current key layout");
    // It loads, with the CLS token kept: one more image token than "default" would give.
    const session = await LlavaSession.load(out);
    expect(session.imageMode).toBe("pad");
    expect(session.model.config.image_seq_length).toBe((28 / 14) ** 2 + 1);
    session.dispose();
    const image = join(fx.data.imagesDir!, fx.data.records[0].image);
    const answer = await run(inferArgs(out, image, "What?", "--max-new-tokens", "3"));
    expect(answer.code, answer.err).toBe(0);
    expect((await run(buildArgs(fx, out, "--save-layout", "new"))).err).toContain(
      "--save-layout must be one of legacy, current",
    );
  });

  it("merge saves either layout, and both answer alike", async () => {
    const adapter = join(fx.root, "adapter");
    // From the zip this time.
    const trained = await run([
      "train",
      ...["--model", fx.model, "--data", fx.data.chatJson, "--images", fx.data.imagesZip!],
      "--output-dir",
      adapter,
      "--max-steps",
      "1",
      "--per-device-train-batch-size",
      "2",
      "--learning-rate",
      "1e-2",
      "--save-strategy",
      "no",
    ]);
    expect(trained.code, trained.err).toBe(0);
    const legacy = join(fx.root, "merged-legacy");
    const current = join(fx.root, "merged-current");
    expect((await run(mergeArgs(fx.model, adapter, legacy))).code).toBe(0);
    const m = await run(mergeArgs(fx.model, adapter, current, "--save-layout", "current"));
    expect(m.code, m.err).toBe(0);
    expect(layoutOf(legacy)).toBe("legacy");
    expect(layoutOf(current)).toBe("current");
    // The adapter's training prompts travel with the merged model.
    expect(readFileSync(join(current, "prompt_format.json"), "utf8")).toBe(
      readFileSync(join(adapter, "prompt_format.json"), "utf8"),
    );
    const image = join(fx.data.imagesDir!, fx.data.records[1].image);
    const q = ["--image", image, "--prompt", "Describe it.", "--max-new-tokens", "5"];
    expect((await run(["infer", "--model", current, ...q])).out).toBe(
      (await run(["infer", "--model", legacy, ...q])).out,
    );
  });
});

describe("TextOCR-GPT4o data", () => {
  it("is read as TextOCR by content, whatever the file is called", async () => {
    const file = join(fx.root, "train.jsonl");
    const rows = fx.data.records.map((r) => ({ filename: r.image, caption: r.conversations[1].value }));
    writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
    const r = await run([
      "eval",
      "--model",
      fx.model,
      "--data",
      file,
      "--images",
      fx.data.imagesZip!,
      "--loss-only",
      "--json",
    ]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).eval_samples).toBe(rows.length);
  });
});
