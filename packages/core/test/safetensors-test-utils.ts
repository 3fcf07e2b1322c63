// Helpers for the safetensors tests (temporary folders, raw files); fixtures come from src/testing.

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Every file under `dir` whose name ends with `suffix`, sorted. */
export function findFiles(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findFiles(p, suffix));
    else if (e.name.endsWith(suffix)) out.push(p);
  }
  return out.sort();
}

/** A fresh temp folder and a function that removes it. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "llava-st-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Builds a safetensors file by hand: 8-byte LE length, the header text (padded to 8), then `data`. */
export function rawFile(path: string, header: string | object, data: Uint8Array = new Uint8Array(0)): string {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const json = Buffer.from(text.padEnd(Math.ceil(Buffer.byteLength(text) / 8) * 8, " "));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.byteLength));
  writeFileSync(path, Buffer.concat([prefix, json, data]));
  return path;
}
