// Fault suite (issue 19, class 1): a long record is cut to model_max_length (HF's name and meaning) instead
// of reaching the model whole; a cut that would split the image or leave nothing to train is a DataError.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { DataError, IGNORE_INDEX } from "@llava-ts/core";
import { Tokenizer } from "@llava-ts/tokenizer";
import { beforeAll, describe, expect, it } from "vitest";
import { LlavaProcessor } from "./llava-processor.js";

const fixtures = process.env.LLAVA_FIXTURES ?? resolve(import.meta.dirname, "../../../../shared/fixtures");
const { surgery } = JSON.parse(readFileSync(resolve(fixtures, "text/cases.json"), "utf8"));

const record = (answer: string) => [
  { from: "human", value: "<image>\nDescribe the picture." },
  { from: "gpt", value: answer },
];
const long = Array.from({ length: 1500 }, (_, i) => `word${i}`).join(" ");

describe("truncation to model_max_length", () => {
  let tokenizer: Tokenizer;
  beforeAll(async () => {
    tokenizer = await Tokenizer.fromPretrained(resolve(fixtures, "tokenizers/qwen2.5"));
    tokenizer.addSpecialTokens([surgery.image_token]);
  });

  it("defaults to the tokenizer's model_max_length (Qwen2.5: 131072)", () => {
    expect(tokenizer.modelMaxLength).toBe(131072);
    const p = new LlavaProcessor(tokenizer, { imageSeqLength: 16 });
    expect(p.modelMaxLength).toBe(131072);
    const s = p.buildTrainingSample(record(long), { mode: "single_turn" });
    expect(s.truncatedFrom).toBeUndefined();
    expect(s.inputIds.length).toBeGreaterThan(3000);
  });

  it("cuts ids and labels on the right and says from how long", () => {
    const full = new LlavaProcessor(tokenizer, { imageSeqLength: 16 }).buildTrainingSample(record(long), {
      mode: "single_turn",
    });
    const p = new LlavaProcessor(tokenizer, { imageSeqLength: 16, modelMaxLength: 256 });
    const s = p.buildTrainingSample(record(long), { mode: "single_turn" });
    expect(s.inputIds).toEqual(full.inputIds.slice(0, 256));
    expect(s.labels).toEqual(full.labels.slice(0, 256));
    expect(s.truncatedFrom).toBe(full.inputIds.length);
    const short = p.buildTrainingSample(record("a red circle"), { mode: "single_turn" });
    expect(short.truncatedFrom).toBeUndefined();
  });

  it("refuses a cut inside the image tokens, or one that leaves no answer token", () => {
    const at = (max: number, imageSeqLength = 16) => {
      const p = new LlavaProcessor(tokenizer, { imageSeqLength, modelMaxLength: max });
      try {
        p.buildTrainingSample(record(long), { mode: "single_turn", file: "chat.json", record: 7 });
      } catch (e) {
        return e as DataError;
      }
    };
    const image = at(10, 576);
    expect(image).toBeInstanceOf(DataError);
    expect(image?.reason).toBe("too_long");
    expect(image?.message).toMatch(
      /^chat\.json record 7: the sample is \d+ tokens and its image tokens run past position 10/,
    );
    const prompt = new LlavaProcessor(tokenizer, { imageSeqLength: 16 }).buildTrainingSample(record("x"), {
      mode: "single_turn",
    });
    const promptLength = prompt.labels.indexOf(prompt.labels.find((y) => y !== IGNORE_INDEX)!);
    const none = at(promptLength);
    expect(none?.reason).toBe("too_long");
    expect(none?.message).toContain(`no answer token is left within the first ${promptLength}`);
    expect(at(promptLength + 1)).toBeUndefined();
  });
});
