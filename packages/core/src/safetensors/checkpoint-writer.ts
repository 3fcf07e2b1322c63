// Writes a checkpoint folder as transformers' save_pretrained does: one `<prefix>.safetensors` when
// everything fits in `maxShardSize`, else `<prefix>-0000i-of-0000n.safetensors` shards plus
// `<prefix>.safetensors.index.json` = {"metadata": {"total_size": N}, "weight_map": {name: shard}}.

import { nodeBuiltin } from "@llava-ts/files";
import { LlavaError } from "../errors.js";
import { compareUtf8, dtypeSize, numElements } from "./dtype.js";
import type { TensorSpec } from "./layout.js";
import { type TensorEntry, type WrittenFile, writeSafetensors } from "./writer.js";

export interface CheckpointWriteOptions {
  /** File name stem: "model" (default) or e.g. "adapter_model". */
  prefix?: string;
  /** Bytes, or a string like "5GB" (10^9) / "2GiB" (2^30). Default "5GB", as transformers. */
  maxShardSize?: number | string;
  /** `__metadata__` of every file; default {format: "pt"}, which transformers checks for on load. */
  metadata?: Record<string, string>;
}

export interface ShardIndex {
  metadata: { total_size: number };
  weight_map: Record<string, string>;
}

export interface WrittenCheckpoint {
  files: WrittenFile[];
  /** The index written, or undefined for a single file. */
  index?: ShardIndex;
  /** Sum of all tensors' data bytes. */
  totalSize: number;
}

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/** "5GB" -> 5e9, "500MiB" -> 524288000, 1234 -> 1234. */
export function parseSize(size: number | string): number {
  if (typeof size === "number") {
    if (!(size > 0) || !Number.isSafeInteger(size))
      throw new LlavaError(`size ${size} is not a positive integer`);
    return size;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(size);
  const unit = UNITS[(m?.[2] || "B").toUpperCase()];
  if (!m || unit === undefined)
    throw new LlavaError(`cannot parse size "${size}" (expected e.g. "5GB", "500MiB")`);
  return parseSize(Math.floor(Number(m[1]) * unit));
}

/**
 * Groups tensors into shards in the given order, as huggingface_hub's split_state_dict_into_shards:
 * a tensor larger than the limit gets a shard of its own (placed before the shard being filled);
 * otherwise a new shard starts when the next tensor would push the current one past the limit.
 */
export function planShards<T extends TensorSpec>(specs: readonly T[], maxBytes: number): T[][] {
  const shards: T[][] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const s of specs) {
    const bytes = numElements(s.shape) * dtypeSize(s.dtype);
    if (bytes > maxBytes) {
      shards.push([s]);
      continue;
    }
    if (currentBytes + bytes > maxBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(s);
    currentBytes += bytes;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

export function shardFileName(prefix: string, i: number, n: number): string {
  const pad = (x: number) => String(x).padStart(5, "0");
  return `${prefix}-${pad(i + 1)}-of-${pad(n)}.safetensors`;
}

/** Writes `entries` into `dir`, streaming one tensor at a time; returns what was written. */
export async function writeSafetensorsCheckpoint(
  dir: string,
  entries: readonly TensorEntry[],
  options: CheckpointWriteOptions = {},
): Promise<WrittenCheckpoint> {
  const prefix = options.prefix ?? "model";
  const metadata = options.metadata ?? { format: "pt" };
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw new LlavaError(`${dir}: tensor "${e.name}" appears twice`);
    seen.add(e.name);
  }
  const shards = planShards(entries, parseSize(options.maxShardSize ?? "5GB"));
  const { mkdirSync, renameSync, writeFileSync } = nodeBuiltin("node:fs", `writing the folder ${dir}`);
  const { join } = nodeBuiltin("node:path", `writing the folder ${dir}`);
  mkdirSync(dir, { recursive: true });
  const single = `${prefix}.safetensors`;
  const indexName = `${prefix}.safetensors.index.json`;

  const files: WrittenFile[] = [];
  const names = shards.length <= 1 ? [single] : shards.map((_, i) => shardFileName(prefix, i, shards.length));
  for (const [i, name] of names.entries()) {
    files.push(await writeSafetensors(join(dir, name), shards[i] ?? [], metadata));
  }
  const totalSize = files.reduce((sum, f) => sum + f.tensors.reduce((s, t) => s + t.byteLength, 0), 0);

  let index: ShardIndex | undefined;
  if (names.length > 1) {
    const weightMap: Record<string, string> = {};
    for (const [i, shard] of shards.entries()) for (const s of shard) weightMap[s.name] = names[i];
    index = { metadata: { total_size: totalSize }, weight_map: weightMap };
    const tmp = join(dir, `${indexName}.tmp-${process.pid}`);
    writeFileSync(tmp, formatIndex(index));
    renameSync(tmp, join(dir, indexName));
  }
  removeStale(dir, prefix, new Set(index ? [...names, indexName] : names));
  return { files, index, totalSize };
}

/**
 * transformers deletes shards of an earlier save with the same prefix; we also delete the single
 * file or index of the other layout, so a folder never holds two conflicting checkpoints.
 */
function removeStale(dir: string, prefix: string, keep: Set<string>): void {
  const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const { readdirSync, rmSync } = nodeBuiltin("node:fs", `writing the folder ${dir}`);
  const { join } = nodeBuiltin("node:path", `writing the folder ${dir}`);
  const ours = new RegExp(`^${esc}(-\\d{5}-of-\\d{5})?\\.safetensors(\\.index\\.json)?$`);
  for (const name of readdirSync(dir)) {
    if (ours.test(name) && !keep.has(name)) rmSync(join(dir, name));
  }
}

/** Python's json.dumps(index, indent=2, sort_keys=True) + "\n", as transformers writes it. */
export function formatIndex(index: ShardIndex): string {
  return `${pyJson(index, "")}\n`;
}

function pyJson(value: unknown, indent: string): string {
  if (value === null || typeof value !== "object") return pyString(JSON.stringify(value));
  const inner = `${indent}  `;
  const keys = Object.keys(value).sort(compareUtf8);
  if (keys.length === 0) return "{}";
  const items = keys.map(
    (k) => `${inner}${pyString(JSON.stringify(k))}: ${pyJson((value as any)[k], inner)}`,
  );
  return `{\n${items.join(",\n")}\n${indent}}`;
}

/** ensure_ascii: Python escapes every non-ASCII UTF-16 unit as \uXXXX. */
function pyString(json: string): string {
  return json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
