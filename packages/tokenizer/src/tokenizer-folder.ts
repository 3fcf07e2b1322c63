// Reads an HF tokenizer folder: tokenizer.json (or vocab.json + merges.txt), tokenizer_config.json and the
// chat template, which transformers looks for in chat_template.jinja, chat_template.json, then the config.

import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "@llava-ts/errors";
import { parseMerges, slowTokenizerJson } from "./slow-tokenizer-json.js";
import type { AddedTokenSpec, TokenizerConfig, TokenizerJson } from "./types.js";

/** Named chat templates; a single template is stored under "default", as transformers does. */
export type ChatTemplates = Record<string, string>;

export interface TokenizerFolder {
  dir: string;
  json: TokenizerJson;
  config: TokenizerConfig;
  chatTemplates: ChatTemplates;
}

async function readJson<T>(file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch (err) {
    throw new ConfigError(`cannot read JSON: ${(err as Error).message}`, undefined, file);
  }
}

/** `chat_template` as HF stores it (a string, or a list of {name, template}) → named templates. */
export function parseChatTemplates(value: unknown, file: string): ChatTemplates {
  if (value === undefined || value === null) return {};
  if (typeof value === "string") return { default: value };
  if (Array.isArray(value)) {
    const out: ChatTemplates = {};
    for (const entry of value) {
      if (typeof entry?.name !== "string" || typeof entry?.template !== "string")
        throw new ConfigError(
          "chat_template list entries need a string name and template",
          "chat_template",
          file,
        );
      out[entry.name] = entry.template;
    }
    return out;
  }
  throw new ConfigError(
    `chat_template must be a string or a list, found ${typeof value}`,
    "chat_template",
    file,
  );
}

/** `added_tokens_decoder` ({"151643": {content, lstrip, ...}}) → added-token specs. */
export function addedTokensFromDecoder(decoder: unknown): AddedTokenSpec[] {
  if (decoder === undefined || decoder === null) return [];
  return Object.entries(decoder as Record<string, Partial<AddedTokenSpec>>).map(([id, t]) => ({
    id: Number(id),
    content: String(t.content),
    single_word: t.single_word ?? false,
    lstrip: t.lstrip ?? false,
    rstrip: t.rstrip ?? false,
    normalized: t.normalized ?? !(t.special ?? false),
    special: t.special ?? false,
  }));
}

export async function readTokenizerFolder(dir: string): Promise<TokenizerFolder> {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ConfigError(`tokenizer folder not found: ${dir}`, undefined, dir);
  const path = (name: string) => join(dir, name);

  const configFile = path("tokenizer_config.json");
  // transformers loads a bare tokenizer.json; the config only adds special tokens and the chat template.
  const config = existsSync(configFile) ? await readJson<TokenizerConfig>(configFile) : {};
  const fromConfig = addedTokensFromDecoder(config.added_tokens_decoder);

  let json: TokenizerJson;
  if (existsSync(path("tokenizer.json"))) {
    json = await readJson<TokenizerJson>(path("tokenizer.json"));
    if (!json.model) throw new ConfigError('no "model" section', "model", path("tokenizer.json"));
    json.added_tokens ??= [];
    // Tokens only the config knows (added after tokenizer.json was written) are added, as transformers does.
    const known = new Set(json.added_tokens.map((t) => t.id));
    json.added_tokens.push(...fromConfig.filter((t) => !known.has(t.id)));
  } else if (existsSync(path("vocab.json")) && existsSync(path("merges.txt"))) {
    if (!existsSync(configFile))
      throw new ConfigError(
        "tokenizer.json is missing, and rebuilding it from vocab.json + merges.txt needs tokenizer_config.json",
        undefined,
        configFile,
      );
    const vocab = await readJson<Record<string, number>>(path("vocab.json"));
    const merges = parseMerges(await readFile(path("merges.txt"), "utf8"));
    json = slowTokenizerJson(
      String(config.tokenizer_class ?? ""),
      vocab,
      merges,
      fromConfig,
      config.add_prefix_space === true,
    );
  } else {
    throw new ConfigError(
      `no tokenizer.json in ${dir} (nor vocab.json + merges.txt to rebuild it from)`,
      undefined,
      path("tokenizer.json"),
    );
  }
  json.added_tokens.sort((a, b) => a.id - b.id);

  let chatTemplates = parseChatTemplates(config.chat_template, configFile);
  if (existsSync(path("chat_template.jinja"))) {
    chatTemplates = { ...chatTemplates, default: await readFile(path("chat_template.jinja"), "utf8") };
  } else if (existsSync(path("chat_template.json"))) {
    const file = path("chat_template.json");
    const fromFile = parseChatTemplates(
      (await readJson<{ chat_template?: unknown }>(file)).chat_template,
      file,
    );
    chatTemplates = { ...chatTemplates, ...fromFile };
  }
  return { dir, json, config, chatTemplates };
}
