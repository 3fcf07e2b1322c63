import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { placeImages, promptFormatOf, readPromptFormat, writePromptFormat } from "./prompt-format.js";

const rec = (human: string) => [
  { from: "human", value: human },
  { from: "gpt", value: "ok" },
];

describe("prompt formats", () => {
  it("records where the training data put <image>, per prompt text and overall", () => {
    const f = promptFormatOf([
      rec("请简要描述这张图片。\n<image>"),
      rec("请简要描述这张图片。\n<image>"),
      rec("<image>\n用一句话描述图片的内容。"),
      rec("What is <image> here?"), // in the middle: not counted
      [{ from: "human", value: "no image" }],
    ]);
    expect(f.image_position).toBe("after");
    expect(f.counts).toEqual({ before: 1, after: 2 });
    expect(f.prompts).toEqual({ "请简要描述这张图片。": "after", "用一句话描述图片的内容。": "before" });
    expect(placeImages("请简要描述这张图片。", 1, f)).toBe("请简要描述这张图片。\n<image>");
    expect(placeImages("用一句话描述图片的内容。", 1, f)).toBe("<image>\n用一句话描述图片的内容。");
    expect(placeImages("Unseen?", 2, f)).toBe("Unseen?\n<image>\n<image>");
    expect(placeImages("Already <image> placed", 1, f)).toBe("Already <image> placed");
  });

  it("defaults to LLaVA's image-first prompts and reads the adapter's file before the model's", () => {
    const model = mkdtempSync(join(tmpdir(), "pf-model-"));
    const adapter = mkdtempSync(join(tmpdir(), "pf-adapter-"));
    expect(placeImages("Q?", 1, readPromptFormat(adapter, model))).toBe("<image>\nQ?");
    writePromptFormat(model, { image_position: "after" });
    expect(readPromptFormat(adapter, model).image_position).toBe("after");
    writePromptFormat(adapter, { image_position: "before" });
    expect(readPromptFormat(adapter, model).image_position).toBe("before");
    writePromptFormat(adapter, { image_position: "left" as "before" });
    expect(() => readPromptFormat(adapter)).toThrow('image_position must be "before" or "after"');
  });
});
