// Reads an HF tokenizer folder: tokenizer.json (or vocab.json + merges.txt), tokenizer_config.json and the
// chat template, which transformers looks for in chat_template.jinja, chat_template.json, then the config.

import { ConfigError } from "@llava-ts/errors";
import {
  type FolderSource,
  isHttpUrl,
  isModelFolder,
  type ModelFolder,
  nodeBuiltin,
  toModelFolder,
} from "@llava-ts/files";
import { parseMerges, slowTokenizerJson } from "./slow-tokenizer-json.js";
import type { AddedTokenSpec, TokenizerConfig, TokenizerJson } from "./types.js";

/** Named chat templates; a single template is stored under "default", as transformers does. */
export type ChatTemplates = Record<string, string>;

export interface TokenizerFolder {
  dir: string;
  json: TokenizerJson;
  config: TokenizerConfig;
  chatTemplates: ChatTemplates;
  /** The file each template came from, to name in its errors. */
  chatTemplateFiles: Record<string, string>;
}

async function readJson<T>(folder: ModelFolder, name: string): Promise<T> {
  try {
    return JSON.parse(await folder.text(name)) as T;
  } catch (err) {
    throw new ConfigError(`cannot read JSON: ${(err as Error).message}`, undefined, folder.describe(name));
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

/** Reads the tokenizer files of a folder on disk, at a URL or in memory. */
export async function readTokenizerFolder(source: FolderSource): Promise<TokenizerFolder> {
  if (typeof source === "string" && !isHttpUrl(source)) {
    const { existsSync, statSync } = nodeBuiltin("node:fs", `reading the tokenizer folder ${source}`);
    if (!existsSync(source) || !statSync(source).isDirectory())
      throw new ConfigError(`tokenizer folder not found: ${source}`, undefined, source);
  }
  const folder = isModelFolder(source) ? source : toModelFolder(source);
  const dir = folder.location;
  const path = (name: string) => folder.describe(name);
  const exists = (name: string) => folder.has(name);

  const configFile = path("tokenizer_config.json");
  // transformers loads a bare tokenizer.json; the config only adds special tokens and the chat template.
  const config = (await exists("tokenizer_config.json"))
    ? await readJson<TokenizerConfig>(folder, "tokenizer_config.json")
    : {};
  const fromConfig = addedTokensFromDecoder(config.added_tokens_decoder);

  let json: TokenizerJson;
  if (await exists("tokenizer.json")) {
    json = await readJson<TokenizerJson>(folder, "tokenizer.json");
    if (!json.model) throw new ConfigError('no "model" section', "model", path("tokenizer.json"));
    json.added_tokens ??= [];
    // Tokens only the config knows (added after tokenizer.json was written) are added, as transformers does.
    const known = new Set(json.added_tokens.map((t) => t.id));
    json.added_tokens.push(...fromConfig.filter((t) => !known.has(t.id)));
  } else if ((await exists("vocab.json")) && (await exists("merges.txt"))) {
    if (!(await exists("tokenizer_config.json")))
      throw new ConfigError(
        "tokenizer.json is missing, and rebuilding it from vocab.json + merges.txt needs tokenizer_config.json",
        undefined,
        configFile,
      );
    const vocab = await readJson<Record<string, number>>(folder, "vocab.json");
    const merges = parseMerges(await folder.text("merges.txt"));
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
  const chatTemplateFiles: Record<string, string> = {};
  const from = (templates: ChatTemplates, file: string) => {
    for (const name of Object.keys(templates)) chatTemplateFiles[name] = file;
    return templates;
  };
  from(chatTemplates, configFile);
  if (await exists("chat_template.jinja")) {
    const file = path("chat_template.jinja");
    chatTemplates = {
      ...chatTemplates,
      ...from({ default: await folder.text("chat_template.jinja") }, file),
    };
  } else if (await exists("chat_template.json")) {
    const file = path("chat_template.json");
    const fromFile = parseChatTemplates(
      (await readJson<{ chat_template?: unknown }>(folder, "chat_template.json")).chat_template,
      file,
    );
    chatTemplates = { ...chatTemplates, ...from(fromFile, file) };
  }
  return { dir, json, config, chatTemplates, chatTemplateFiles };
}
