// The files transformers 4.46 writes in `tokenizer.save_pretrained(dir)`, with its JSON formatting
// (sorted keys, indent 2, raw UTF-8, trailing newline), so a saved folder diffs cleanly against Python's.

import { nodeBuiltin } from "@llava-ts/files";
import type { ChatTemplates } from "./tokenizer-folder.js";
import {
  type AddedTokenSpec,
  SPECIAL_TOKEN_ROLES,
  type TokenizerConfig,
  type TokenizerJson,
} from "./types.js";

export interface TokenizerSnapshot {
  json: TokenizerJson;
  config: TokenizerConfig;
  chatTemplates: ChatTemplates;
  vocabSize: number;
}

// Own serialiser: JS objects put integer-like keys ("0", "151643") first whatever the insertion order,
// while Python sorts every key as a string ("0" < "00" < "1").
function dump(value: unknown, indent: string): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => inner + dump(v, inner)).join(",\n")}\n${indent}]`;
  }
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (keys.length === 0) return "{}";
  const items = keys.map(
    (k) => `${inner}${JSON.stringify(k)}: ${dump((value as Record<string, unknown>)[k], inner)}`,
  );
  return `{\n${items.join(",\n")}\n${indent}}`;
}

/** Python's `json.dumps(x, indent=2, sort_keys=True, ensure_ascii=False) + "\n"`. */
export function hfJson(value: unknown): string {
  return `${dump(value, "")}\n`;
}

// special_tokens_map.json holds AddedToken dicts without the "special" flag.
function tokenDict(content: string, added: Map<string, AddedTokenSpec>) {
  const t = added.get(content);
  return {
    content,
    lstrip: t?.lstrip ?? false,
    normalized: t?.normalized ?? false,
    rstrip: t?.rstrip ?? false,
    single_word: t?.single_word ?? false,
  };
}

/** File name → contents of a saved tokenizer folder. */
export function tokenizerFiles(snapshot: TokenizerSnapshot): Record<string, string> {
  const { json, config, chatTemplates, vocabSize } = snapshot;
  const added = [...json.added_tokens].sort((a, b) => a.id - b.id);
  const byContent = new Map(added.map((t) => [t.content, t]));

  const decoder: Record<string, Omit<AddedTokenSpec, "id">> = {};
  for (const { id, ...flags } of added) decoder[String(id)] = flags;
  const templateNames = Object.keys(chatTemplates);
  const tokenizerConfig: TokenizerConfig = {
    ...config,
    tokenizer_class: config.tokenizer_class ?? "PreTrainedTokenizerFast",
    added_tokens_decoder: decoder,
  };
  if (templateNames.length === 1 && templateNames[0] === "default")
    tokenizerConfig.chat_template = chatTemplates.default;
  else if (templateNames.length > 0)
    tokenizerConfig.chat_template = templateNames.map((name) => ({ name, template: chatTemplates[name] }));
  else delete tokenizerConfig.chat_template;
  if (Array.isArray(config.additional_special_tokens) && config.additional_special_tokens.length === 0)
    delete tokenizerConfig.additional_special_tokens;

  const specialMap: Record<string, unknown> = {};
  const additional = (config.additional_special_tokens as string[] | undefined) ?? [];
  if (additional.length)
    specialMap.additional_special_tokens = additional.map((t) => tokenDict(t, byContent));
  for (const role of SPECIAL_TOKEN_ROLES) {
    const token = config[role];
    if (typeof token === "string") specialMap[role] = tokenDict(token, byContent);
  }

  const files: Record<string, string> = {
    "tokenizer.json": `${JSON.stringify({ ...json, added_tokens: added }, null, 2)}\n`,
    "tokenizer_config.json": hfJson(tokenizerConfig),
    "special_tokens_map.json": hfJson(specialMap),
  };
  // As the slow tokenizer saves them: tokens past the model vocabulary, plus vocab.json + merges.txt.
  const beyondVocab = added.filter((t) => t.id >= vocabSize);
  if (beyondVocab.length)
    files["added_tokens.json"] = hfJson(Object.fromEntries(beyondVocab.map((t) => [t.content, t.id])));
  const { model } = json;
  if (model.type === "BPE" && model.vocab && !Array.isArray(model.vocab) && Array.isArray(model.merges)) {
    files["vocab.json"] = hfJson(model.vocab);
    const merges = model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
    files["merges.txt"] = `#version: 0.2\n${merges.map((m) => `${m}\n`).join("")}`;
  }
  return files;
}

/** Writes the files of `tokenizerFiles` into dir (created if needed); returns the paths written. */
export async function writeTokenizerFiles(dir: string, snapshot: TokenizerSnapshot): Promise<string[]> {
  const { mkdir, writeFile } = nodeBuiltin("node:fs/promises", `writing the tokenizer to ${dir}`);
  const { join } = nodeBuiltin("node:path", `writing the tokenizer to ${dir}`);
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of Object.entries(tokenizerFiles(snapshot))) {
    const path = join(dir, name);
    await writeFile(path, text, "utf8");
    written.push(path);
  }
  return written;
}
