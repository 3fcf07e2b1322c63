import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@llava-ts/errors";
import { afterAll, describe, expect, it } from "vitest";
import { slowTokenizerJson } from "./slow-tokenizer-json.js";
import { Tokenizer } from "./tokenizer.js";

// A four-token byte-level BPE: "h" "i" "hi" "Ġ" with one merge, enough to exercise loading.
const vocab = { h: 0, i: 1, hi: 2, Ġ: 3 };
const tinyJson = slowTokenizerJson("GPT2Tokenizer", vocab, ["h i"], [], false);
const root = mkdtempSync(join(tmpdir(), "llava-tokenizer-folder-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function folder(name: string, files: Record<string, unknown>): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const [file, content] of Object.entries(files))
    writeFileSync(join(dir, file), typeof content === "string" ? content : JSON.stringify(content));
  return dir;
}

async function loadError(dir: string): Promise<ConfigError> {
  const err = await Tokenizer.fromPretrained(dir).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return err;
}

describe("readTokenizerFolder", () => {
  it("names a missing folder", async () => {
    const err = await loadError(join(root, "nope"));
    expect(err.message).toMatch(/tokenizer folder not found: .*nope/);
  });

  it("names the missing tokenizer.json", async () => {
    const dir = folder("config-only", { "tokenizer_config.json": { tokenizer_class: "Qwen2Tokenizer" } });
    const err = await loadError(dir);
    expect(err.message).toContain("no tokenizer.json");
    expect(err.file).toBe(join(dir, "tokenizer.json"));
  });

  it("names the missing tokenizer_config.json when only slow files are there", async () => {
    const dir = folder("slow-no-config", { "vocab.json": vocab, "merges.txt": "#version: 0.2\nh i\n" });
    const err = await loadError(dir);
    expect(err.file).toBe(join(dir, "tokenizer_config.json"));
  });

  it("names a file that is not JSON", async () => {
    const dir = folder("broken", { "tokenizer.json": "{ not json" });
    const err = await loadError(dir);
    expect(err.message).toContain(join(dir, "tokenizer.json"));
  });

  it("rejects slow files of a class it cannot rebuild", async () => {
    const dir = folder("slow-llama", {
      "vocab.json": vocab,
      "merges.txt": "h i\n",
      "tokenizer_config.json": { tokenizer_class: "LlamaTokenizer" },
    });
    expect((await loadError(dir)).message).toMatch(/"LlamaTokenizer" cannot be rebuilt/);
  });

  it("loads a bare tokenizer.json and adds tokens only the config knows", async () => {
    const bare = await Tokenizer.fromPretrained(folder("bare", { "tokenizer.json": tinyJson }));
    expect(bare.encode("hi hi")).toEqual([2, 3, 2]);
    expect(bare.length).toBe(4);
    const dir = folder("config-adds", {
      "tokenizer.json": tinyJson,
      "tokenizer_config.json": {
        added_tokens_decoder: { "4": { content: "<x>", special: true } },
        eos_token: { __type: "AddedToken", content: "<x>" },
      },
    });
    const tok = await Tokenizer.fromPretrained(dir);
    expect(tok.encode("hi<x>h")).toEqual([2, 4, 0]);
    expect(tok.eosTokenId).toBe(4);
  });

  it("prefers chat_template.jinja, then chat_template.json, then the config", async () => {
    const messages = [{ role: "user", content: "hi" }];
    const config = { chat_template: "config:{{ messages[0].content }}", eos_token: null };
    const fromConfig = await Tokenizer.fromPretrained(
      folder("tpl-config", { "tokenizer.json": tinyJson, "tokenizer_config.json": config }),
    );
    expect(fromConfig.applyChatTemplate(messages)).toBe("config:hi");
    const fromJson = await Tokenizer.fromPretrained(
      folder("tpl-json", {
        "tokenizer.json": tinyJson,
        "tokenizer_config.json": config,
        "chat_template.json": { chat_template: "json:{{ messages[0].content }}" },
      }),
    );
    expect(fromJson.applyChatTemplate(messages)).toBe("json:hi");
    const fromJinja = await Tokenizer.fromPretrained(
      folder("tpl-jinja", {
        "tokenizer.json": tinyJson,
        "tokenizer_config.json": config,
        "chat_template.json": { chat_template: "json" },
        "chat_template.jinja": "jinja:{{ messages[0].content }}{{ eos_token }}",
      }),
    );
    expect(fromJinja.applyChatTemplate(messages)).toBe("jinja:hi");
    expect(fromJinja.applyChatTemplate(messages, { tokenize: true })).toEqual(fromJinja.encode("jinja:hi"));
  });

  it("a template that fails names its file and key; one passed as source names none", async () => {
    const messages = [{ role: "user", content: "hi" }];
    const hostile = "{{ messages | nosuchfilter }}";
    const dir = folder("tpl-hostile", {
      "tokenizer.json": tinyJson,
      "tokenizer_config.json": { chat_template: "config" },
      "chat_template.json": { chat_template: hostile },
    });
    const tok = await Tokenizer.fromPretrained(dir);
    const err = (() => {
      try {
        tok.applyChatTemplate(messages);
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toBe(
      `${join(dir, "chat_template.json")}: chat_template: fails to render: Unknown ArrayValue filter: nosuchfilter`,
    );
    expect(err?.key).toBe("chat_template");
    expect(() => tok.applyChatTemplate(messages, { chatTemplate: `x${hostile}` })).toThrow(
      /^chat_template: fails to render/,
    );
  });

  it("selects named templates and passes special tokens and generation prompt", async () => {
    const tok = await Tokenizer.fromPretrained(
      folder("tpl-named", {
        "tokenizer.json": tinyJson,
        "tokenizer_config.json": {
          eos_token: "hi",
          chat_template: [
            {
              name: "default",
              template: "{{ messages | length }}{% if add_generation_prompt %}+{% endif %}",
            },
            { name: "tool_use", template: "tools:{{ eos_token }}" },
          ],
        },
      }),
    );
    expect(tok.chatTemplateNames).toEqual(["default", "tool_use"]);
    expect(tok.applyChatTemplate([{ role: "user", content: "x" }], { addGenerationPrompt: true })).toBe("1+");
    expect(tok.applyChatTemplate([], { chatTemplate: "tool_use" })).toBe("tools:hi");
  });
});
