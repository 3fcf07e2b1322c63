import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "@llava-ts/errors";
import { beforeAll, describe, expect, it } from "vitest";
import { Tokenizer } from "./tokenizer.js";

const repoRoot = resolve(import.meta.dirname, "../../..");
const fixtures = process.env.LLAVA_FIXTURES ?? resolve(repoRoot, "../shared/fixtures");
const qwenDir = resolve(fixtures, "tokenizers/qwen2.5");
const cases = JSON.parse(readFileSync(resolve(fixtures, "text/cases.json"), "utf8"));
type Case = { text: string; ids: number[]; decoded?: string };

describe("Tokenizer (Qwen2.5)", () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromPretrained(qwenDir);
  });

  it("encodes every plain case exactly and decodes it back", () => {
    expect(cases.plain.length).toBeGreaterThan(10);
    for (const c of cases.plain as Case[]) {
      expect(tok.encode(c.text), c.text).toEqual(c.ids);
      expect(tok.decode(c.ids), c.text).toBe(c.decoded);
    }
  });

  it("looks tokens up both ways and counts like transformers", () => {
    expect(tok.tokenToId("<|im_end|>")).toBe(151645);
    expect(tok.idToToken(151644)).toBe("<|im_start|>");
    expect(tok.tokenToId("Hello")).toBe(9707);
    expect(tok.tokenToId("<image>")).toBeUndefined();
    expect(tok.vocabSize).toBe(151643);
    expect(tok.length).toBe(cases.surgery.len_before);
    expect(tok.eosToken).toBe("<|im_end|>");
    expect(tok.eosTokenId).toBe(151645);
    expect(tok.padTokenId).toBe(151643);
    expect(tok.bosTokenId).toBeNull();
  });

  it("skips special tokens when decoding if asked, and rejects unknown ids", () => {
    const ids = tok.encode("<|im_start|>user\nhi<|im_end|>");
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("user\nhi");
    expect(() => tok.decode([10_000_000])).toThrow(/10000000 is not in the vocabulary/);
    expect(tok.decode([])).toBe("");
  });

  it("renders the chat template as transformers does", () => {
    const { llava } = cases;
    const system = { role: "system", content: llava.system };
    const first = llava.seed_recipe.record.conversations[0].value;
    const prompt = tok.applyChatTemplate([system, { role: "user", content: first }], {
      addGenerationPrompt: true,
    });
    expect(prompt).toBe(llava.seed_recipe.prompt_text);

    const turns = llava.multi_turn.record.conversations.map((t: { from: string; value: string }) => ({
      role: t.from === "human" ? "user" : "assistant",
      content: t.value,
    }));
    expect(tok.applyChatTemplate([system, ...turns])).toBe(llava.multi_turn.text);

    const gen = tok.applyChatTemplate([system, { role: "user", content: "<image>\nDescribe the image." }], {
      addGenerationPrompt: true,
    });
    expect(gen).toBe(llava.generation_prompt);
    // Without a system message Qwen2.5's template inserts its own.
    expect(tok.applyChatTemplate([{ role: "user", content: "hi" }])).toContain(
      "You are Qwen, created by Alibaba Cloud",
    );
  });

  it("tokenizes the rendered template without adding special tokens", () => {
    const messages = [{ role: "user", content: "描述这张图片" }];
    const ids = tok.applyChatTemplate(messages, { tokenize: true });
    expect(ids).toEqual(tok.encode(tok.applyChatTemplate(messages), { addSpecialTokens: false }));
    expect(ids.slice(-8)).toEqual(cases.plain[3].ids);
  });

  it("does the <image> surgery: new id 151665, pad and eos as transformers", () => {
    const s = cases.surgery;
    const surgered = new Tokenizer(...tokParts());
    expect(surgered.addSpecialTokens([s.image_token])).toEqual([s.image_token_id]);
    surgered.padToken = s.pad_token;
    expect(surgered.length).toBe(s.len_after);
    expect(surgered.tokenToId(s.image_token)).toBe(s.image_token_id);
    expect(surgered.padTokenId).toBe(s.pad_token_id);
    expect(surgered.eosTokenId).toBe(s.eos_token_id);
    for (const c of s.encodings_after as Case[]) expect(surgered.encode(c.text), c.text).toEqual(c.ids);
    expect(surgered.decode([9707, 151665, 1879])).toBe("Hello<image> world");
    expect(surgered.decode([9707, 151665, 1879], { skipSpecialTokens: true })).toBe("Hello world");

    // Adding it again, or an existing special token, keeps the ids and the length.
    expect(surgered.addSpecialTokens(["<image>", "<|im_end|>"])).toEqual([151665, 151645]);
    expect(surgered.length).toBe(s.len_after);
    expect(surgered.additionalSpecialTokens.filter((t) => t === "<image>")).toHaveLength(1);
    // The tokenizer it was copied from is untouched.
    expect(tok.tokenToId("<image>")).toBeUndefined();
    expect(tok.length).toBe(s.len_before);
  });

  it("plans the embedding resize from the largest id", () => {
    const surgered = new Tokenizer(...tokParts());
    surgered.addSpecialTokens(["<image>"]);
    expect(surgered.maxTokenId).toBe(151665);
    // Qwen2.5-3B has 151936 rows, so <image> fits.
    expect(surgered.planEmbeddingResize(151936)).toEqual({
      needed: false,
      currentRows: 151936,
      newRows: 151936,
      addedRows: 0,
    });
    expect(surgered.planEmbeddingResize(151665)).toEqual({
      needed: true,
      currentRows: 151665,
      newRows: 151666,
      addedRows: 1,
    });
    expect(surgered.planEmbeddingResize(151600, { padToMultipleOf: 64 }).newRows).toBe(151680);
  });

  it("refuses a pad token outside the vocabulary and a missing chat template", () => {
    expect(() => {
      tok.padToken = "<pad-that-does-not-exist>";
    }).toThrow(ConfigError);
    const [json, config] = tokParts();
    const bare = new Tokenizer(json, config, {});
    expect(() => bare.applyChatTemplate([{ role: "user", content: "hi" }])).toThrow(/no chat template/);
  });
});

// Rebuilding from the fixture folder's JSON keeps tests independent of one another's surgery.
let parts:
  | [ConstructorParameters<typeof Tokenizer>[0], Record<string, unknown>, Record<string, string>]
  | undefined;
function tokParts() {
  if (!parts) {
    const json = JSON.parse(readFileSync(resolve(qwenDir, "tokenizer.json"), "utf8"));
    const config = JSON.parse(readFileSync(resolve(qwenDir, "tokenizer_config.json"), "utf8"));
    parts = [json, config, { default: config.chat_template }];
  }
  return parts;
}
