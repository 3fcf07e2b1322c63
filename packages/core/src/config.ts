// Helpers for the parse…Config functions: read HF config.json values with their key in every error.

import { type ModelFolder, nodeBuiltin } from "@llava-ts/files";
import { ConfigError } from "./errors.js";

export type JsonObject = Record<string, unknown>;

export function readJsonFile(path: string): JsonObject {
  let text: string;
  try {
    text = nodeBuiltin("node:fs", `reading ${path}`).readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read: ${(e as Error).message}`, undefined, path);
  }
  return parseJsonObject(text, path);
}

/** `name` (config.json, …) of a folder on disk, at a URL or in memory, as a JSON object. */
export async function readFolderJson(folder: ModelFolder, name: string): Promise<JsonObject> {
  let text: string;
  try {
    text = await folder.text(name);
  } catch (e) {
    throw new ConfigError(`cannot read: ${(e as Error).message}`, undefined, folder.describe(name));
  }
  return parseJsonObject(text, folder.describe(name));
}

function parseJsonObject(text: string, path: string): JsonObject {
  try {
    const value = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new Error("top level is not an object");
    return value as JsonObject;
  } catch (e) {
    throw new ConfigError(`not valid JSON: ${(e as Error).message}`, undefined, path);
  }
}

export class ConfigReader {
  constructor(
    readonly json: JsonObject,
    readonly file?: string,
    readonly prefix = "",
  ) {}

  private fail(key: string, message: string): never {
    throw new ConfigError(`${this.prefix}${key}: ${message}`, `${this.prefix}${key}`, this.file);
  }

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  number(key: string, fallback?: number): number {
    const v = this.json[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v))
      this.fail(key, v === undefined ? "is required" : `expected a number, found ${JSON.stringify(v)}`);
    return v;
  }

  /** A number > 0 (an epsilon, a RoPE base). */
  positive(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    if (v <= 0) this.fail(key, `expected a number > 0, found ${v}`);
    return v;
  }

  /** A number in [min, max]. */
  inRange(key: string, min: number, max: number, fallback?: number): number {
    const v = this.number(key, fallback);
    if (v < min || v > max) this.fail(key, `expected a number from ${min} to ${max}, found ${v}`);
    return v;
  }

  /** A string among `choices` (an activation name, a strategy); the message lists them. */
  oneOf(key: string, choices: readonly string[], fallback?: string): string {
    const v = this.string(key, fallback);
    if (!choices.includes(v))
      this.fail(key, `unknown value ${JSON.stringify(v)}; known: ${choices.join(", ")}`);
    return v;
  }

  /** Token ids (one, or a list) that must be integers inside a vocabulary of `vocab` entries. */
  tokenIds(key: string, vocab: number): number | readonly number[] | undefined {
    const v = this.json[key];
    if (v === undefined || v === null) return undefined;
    const ids = Array.isArray(v) ? v : [v];
    for (const id of ids)
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= vocab)
        this.fail(
          key,
          `${JSON.stringify(id)} is not a token id: expected an integer from 0 to ${vocab - 1} (vocab_size ${vocab})`,
        );
    return Array.isArray(v) ? Object.freeze([...(v as number[])]) : (v as number);
  }

  /** One token id inside the vocabulary, or undefined when absent. */
  tokenId(key: string, vocab: number): number | undefined {
    const v = this.tokenIds(key, vocab);
    if (Array.isArray(v)) this.fail(key, `expected one token id, found ${JSON.stringify(v)}`);
    return v as number | undefined;
  }

  positiveInt(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    if (!Number.isInteger(v) || v <= 0) this.fail(key, `expected a positive integer, found ${v}`);
    return v;
  }

  string(key: string, fallback?: string): string {
    const v = this.json[key] ?? fallback;
    if (typeof v !== "string")
      this.fail(key, v === undefined ? "is required" : `expected a string, found ${JSON.stringify(v)}`);
    return v;
  }

  boolean(key: string, fallback?: boolean): boolean {
    const v = this.json[key] ?? fallback;
    if (typeof v !== "boolean")
      this.fail(key, v === undefined ? "is required" : `expected true or false, found ${JSON.stringify(v)}`);
    return v;
  }

  object(key: string): ConfigReader {
    const v = this.json[key];
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(key, "expected an object");
    return new ConfigReader(v as JsonObject, this.file, `${this.prefix}${key}.`);
  }

  /** Checks that `a` divides evenly by `b`, naming both keys. */
  divisible(aKey: string, a: number, bKey: string, b: number): void {
    if (a % b !== 0) this.fail(aKey, `${a} is not divisible by ${bKey} = ${b}`);
  }
}
