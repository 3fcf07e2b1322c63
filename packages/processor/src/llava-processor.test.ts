import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError, DataError, IGNORE_INDEX } from "@llava-ts/core";
import { Tokenizer } from "@llava-ts/tokenizer";
import { beforeAll, describe, expect, it } from "vitest";
import type { LlavaTurn } from "./llava-conversation.js";
import { LlavaProcessor } from "./llava-processor.js";

const repoRoot = resolve(import.meta.dirname, "../../..");
const fixtures = process.env.LLAVA_FIXTURES ?? resolve(repoRoot, "../shared/fixtures");
const { llava, surgery } = JSON.parse(readFileSync(resolve(fixtures, "text/cases.json"), "utf8"));

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

describe("LlavaProcessor (Qwen2.5 + <image>)", () => {
  let tokenizer: Tokenizer;
  let processor: LlavaProcessor;
  let beforeSurgery: unknown;
  beforeAll(async () => {
    tokenizer = await Tokenizer.fromPretrained(resolve(fixtures, "tokenizers/qwen2.5"));
    beforeSurgery = (() => {
      try {
        return new LlavaProcessor(tokenizer);
      } catch (err) {
        return err;
      }
    })();
    tokenizer.addSpecialTokens([surgery.image_token]);
    tokenizer.padToken = surgery.pad_token;
    processor = new LlavaProcessor(tokenizer, { imageSeqLength: llava.n_image_tokens });
  });

  it("needs the <image> surgery first", () => {
    expect(beforeSurgery).toBeInstanceOf(ConfigError);
    expect((beforeSurgery as Error).message).toMatch(/addSpecialTokens\(\["<image>"\]\)/);
    expect(processor.imageTokenId).toBe(surgery.image_token_id);
    expect(processor.systemPrompt).toBe(llava.system);
  });

  it("builds the tutorial's single-turn sample exactly", () => {
    const { record, input_ids, labels } = llava.seed_recipe;
    const sample = processor.buildTrainingSample(deepFreeze(record.conversations), { mode: "single_turn" });
    expect(sample.inputIds).toHaveLength(input_ids.length);
    expect(sample.inputIds).toEqual(input_ids);
    expect(sample.labels).toEqual(labels);
    // Only the answer and <|im_end|> are trained, and the sample ends there (no "\n").
    expect(sample.labels.filter((l) => l !== IGNORE_INDEX)).toEqual([
      ...tokenizer.encode(record.conversations[1].value),
      surgery.eos_token_id,
    ]);
    expect(sample.inputIds.filter((id) => id === surgery.image_token_id)).toHaveLength(576);
  });

  it("builds the multi-turn sample exactly: every answer + <|im_end|> trained, the newline after not", () => {
    const { record, input_ids, labels } = llava.multi_turn;
    const sample = processor.buildTrainingSample(deepFreeze(record.conversations), { mode: "multi_turn" });
    expect(sample.inputIds).toEqual(input_ids);
    expect(sample.labels).toEqual(labels);
    expect(sample.inputIds.at(-1)).toBe(198);
    expect(sample.labels.at(-1)).toBe(IGNORE_INDEX);
  });

  it("accepts {role, content} turns and a system turn of the record's own", () => {
    const { record, input_ids, labels } = llava.multi_turn;
    const chat = record.conversations.map((t: { from: string; value: string }) => ({
      role: t.from === "human" ? "user" : "assistant",
      content: t.value,
    }));
    expect(processor.buildTrainingSample(chat, { mode: "multi_turn" })).toEqual({
      inputIds: input_ids,
      labels,
    });
    const withSystem = [{ role: "system", content: llava.system }, ...chat];
    expect(processor.buildTrainingSample(withSystem, { mode: "multi_turn" }).inputIds).toEqual(input_ids);
    const other = processor.buildTrainingSample([{ role: "system", content: "Be brief." }, ...chat], {
      mode: "multi_turn",
    });
    expect(tokenizer.decode(other.inputIds.slice(0, 8))).toBe("<|im_start|>system\nBe brief.<|im_end|>\n");
  });

  it("single_turn mode takes the first exchange of a longer conversation", () => {
    const sample = processor.buildTrainingSample(llava.multi_turn.record.conversations, {
      mode: "single_turn",
    });
    const answer = tokenizer.encode(llava.multi_turn.record.conversations[1].value);
    expect(sample.labels.filter((l) => l !== IGNORE_INDEX)).toEqual([...answer, surgery.eos_token_id]);
    expect(sample.inputIds.at(-1)).toBe(surgery.eos_token_id);
  });

  it("builds the inference prompt with the image and the generation prompt", () => {
    const expected = processor.expandImageTokens(tokenizer.encode(llava.generation_prompt));
    for (const input of ["Describe the image.", "<image>\nDescribe the image."]) {
      const prompt = processor.buildPrompt(input);
      expect(prompt.text).toBe(llava.generation_prompt);
      expect(prompt.inputIds).toEqual(expected);
    }
    const turns = deepFreeze([{ from: "human", value: "<image>\nDescribe the image." }]);
    expect(processor.buildPrompt(turns).inputIds).toEqual(expected);
    expect(expected.at(-1)).toBe(198);
  });

  it("expands to imageSeqLength tokens per image", () => {
    const small = new LlavaProcessor(tokenizer, { image_seq_length: 4 });
    const sample = small.buildTrainingSample(llava.seed_recipe.record.conversations, { mode: "single_turn" });
    expect(sample.inputIds).toHaveLength(llava.seed_recipe.input_ids.length - 572);
    const two = small.buildPrompt("<image> and <image>: which is larger?", { numImages: 2 });
    expect(two.inputIds.filter((id) => id === surgery.image_token_id)).toHaveLength(8);
  });

  describe("rejects bad records with a DataError naming the problem", () => {
    const ask = (value: string) => ({ from: "human", value });
    const answer = { from: "gpt", value: "A cat." };
    const cases: [string, unknown, RegExp, string][] = [
      [
        "no <image>",
        [ask("What is this?"), answer],
        /no <image> in the conversation but 1 image/,
        "image_token_mismatch",
      ],
      [
        "two <image>",
        [ask("<image><image>What?"), answer],
        /2 <image> token\(s\).*1 image/,
        "image_token_mismatch",
      ],
      ["an empty conversation", [], /conversation is empty/, "empty_conversation"],
      [
        "an unknown role",
        [ask("<image>"), { from: "bot", value: "x" }],
        /turn 1 has unknown role "bot"/,
        "unknown_role",
      ],
      [
        "a gpt first turn",
        [answer, ask("<image>")],
        /must start with a human turn, found "assistant"/,
        "not_starting_with_human",
      ],
      ["no answer", [ask("<image>")], /nothing to train on/, "no_answer"],
      [
        "an image in an answer",
        [ask("<image>"), { from: "gpt", value: "<image>" }],
        /gpt turn 1/,
        "image_in_answer",
      ],
      [
        "turns out of order",
        [ask("<image>"), ask("again"), answer],
        /turn 1 should be gpt/,
        "bad_turn_order",
      ],
      [
        "a turn without text",
        [ask("<image>"), { from: "gpt" }],
        /turn 1 needs string/,
        "malformed_conversation",
      ],
    ];
    it.each(cases)("%s", (_name, conversations, message, reason) => {
      const build = () =>
        processor.buildTrainingSample(conversations as LlavaTurn[], {
          mode: "multi_turn",
          file: "chat.json",
          record: 7,
        });
      expect(build).toThrow(DataError);
      expect(build).toThrow(message);
      try {
        build();
      } catch (err) {
        expect(err).toMatchObject({ file: "chat.json", record: 7, reason });
        expect((err as Error).message).toMatch(/^chat\.json record 7: /);
      }
    });

    it("a multi-turn conversation ending with a human turn", () => {
      const turns = [...llava.multi_turn.record.conversations.slice(0, 3)];
      expect(() => processor.buildTrainingSample(turns, { mode: "multi_turn" })).toThrow(
        /human turn that has no answer/,
      );
    });

    it("text-only records when numImages is 0, and not otherwise", () => {
      const turns = [ask("Hi"), answer];
      expect(processor.buildTrainingSample(turns, { mode: "multi_turn", numImages: 0 }).labels.at(-2)).toBe(
        surgery.eos_token_id,
      );
      expect(() => processor.buildTrainingSample(turns, { mode: "single_turn" })).toThrow(DataError);
    });
  });
});
