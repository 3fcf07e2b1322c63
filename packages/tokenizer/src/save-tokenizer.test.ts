import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tokenizer } from "./tokenizer.js";

const repoRoot = resolve(import.meta.dirname, "../../..");
const fixtures = process.env.LLAVA_FIXTURES ?? resolve(repoRoot, "../shared/fixtures");
const expectedDir = resolve(fixtures, "text/tokenizer-with-image");
const surgery = JSON.parse(readFileSync(resolve(fixtures, "text/cases.json"), "utf8")).surgery;
type Case = { text: string; ids: number[] };

const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");

describe("Tokenizer.save after the <image> surgery", () => {
  const dir = mkdtempSync(join(tmpdir(), "llava-tokenizer-"));
  let written: string[];
  beforeAll(async () => {
    const tok = await Tokenizer.fromPretrained(resolve(fixtures, "tokenizers/qwen2.5"));
    tok.addSpecialTokens([surgery.image_token]);
    tok.padToken = surgery.pad_token;
    written = await tok.save(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the files transformers writes", () => {
    expect(written.map((p) => p.slice(dir.length + 1)).sort()).toEqual([
      "added_tokens.json",
      "merges.txt",
      "special_tokens_map.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "vocab.json",
    ]);
  });

  // transformers 4.46 saved the fixture; our JSON formatting follows its json.dumps, so the files are equal
  // byte for byte (the fixture has no tokenizer.json: it was saved by the slow Qwen2Tokenizer).
  it.each([
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
  ])("%s equals the one transformers saved", (name) => {
    const ours = read(dir, name);
    const theirs = read(expectedDir, name);
    if (name.endsWith(".json")) expect(JSON.parse(ours)).toEqual(JSON.parse(theirs));
    expect(ours === theirs).toBe(true);
  });

  it("lists <image> in added_tokens_decoder and tokenizer.json as a special, unnormalised token", () => {
    const config = JSON.parse(read(dir, "tokenizer_config.json"));
    expect(config.added_tokens_decoder["151665"]).toEqual({
      content: "<image>",
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: true,
    });
    expect(config.pad_token).toBe("<|endoftext|>");
    expect(config.eos_token).toBe("<|im_end|>");
    expect(config.model_max_length).toBe(131072);
    const json = JSON.parse(read(dir, "tokenizer.json"));
    expect(json.added_tokens.at(-1)).toEqual({ id: 151665, ...config.added_tokens_decoder["151665"] });
    expect(json.added_tokens).toHaveLength(23);
  });

  it("reloads to the same ids, length and special tokens", async () => {
    const back = await Tokenizer.fromPretrained(dir);
    expect(back.length).toBe(surgery.len_after);
    expect(back.padTokenId).toBe(surgery.pad_token_id);
    expect(back.eosTokenId).toBe(surgery.eos_token_id);
    for (const c of surgery.encodings_after as Case[]) expect(back.encode(c.text), c.text).toEqual(c.ids);
  });

  it("loads the folder transformers saved (vocab.json + merges.txt, no tokenizer.json) to the same ids", async () => {
    const theirs = await Tokenizer.fromPretrained(expectedDir);
    expect(theirs.length).toBe(surgery.len_after);
    expect(theirs.tokenToId("<image>")).toBe(surgery.image_token_id);
    expect(theirs.padTokenId).toBe(surgery.pad_token_id);
    for (const c of surgery.encodings_after as Case[]) expect(theirs.encode(c.text), c.text).toEqual(c.ids);
  });
});
