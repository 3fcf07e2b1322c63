// A checkpoint = one or more .safetensors files behind one per-tensor API. Opens a file path, an
// index.json path, or a folder holding `<prefix>.safetensors` or `<prefix>.safetensors.index.json`
// (transformers' lookup order: the single file wins). Only shard headers are read on open.

import { type ModelFolder, nodeBuiltin } from "@llava-ts/files";
import type * as tf from "@tensorflow/tfjs-core";
import { FormatError, LlavaError } from "../errors.js";
import { FileTensor } from "../modules/host-tensor.js";
import { isInsideFolder } from "../paths.js";
import type { TensorData } from "./decode.js";
import type { TensorInfo } from "./header.js";
import { SafetensorsFile, type SafetensorsSource } from "./safetensors-file.js";

export interface CheckpointOpenOptions {
  /** File name stem looked for in a folder: "model" (default), "adapter_model", ... */
  prefix?: string;
}

export class SafetensorsCheckpoint implements SafetensorsSource {
  /** Union of the files' `__metadata__` (the first file wins on a conflicting key). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The index's "metadata" object (e.g. {total_size}), or undefined for a single file. */
  readonly indexMetadata: Readonly<Record<string, unknown>> | undefined;
  /** Tensors present in a shard but absent from weight_map: invisible here, listed so nothing hides. */
  readonly unindexed: readonly string[];

  private constructor(
    /** The file or index.json that was opened. */
    readonly path: string,
    readonly files: readonly SafetensorsFile[],
    private readonly owner: ReadonlyMap<string, SafetensorsFile>,
    indexMetadata: Record<string, unknown> | undefined,
    unindexed: string[],
  ) {
    const metadata: Record<string, string> = {};
    for (const f of files)
      for (const [k, v] of Object.entries(f.metadata)) if (!(k in metadata)) metadata[k] = v;
    this.metadata = Object.freeze(metadata);
    this.indexMetadata = indexMetadata;
    this.unindexed = unindexed;
  }

  /** Opens a .safetensors file, an index.json, or a checkpoint folder. */
  static open(pathOrDir: string, options: CheckpointOpenOptions = {}): SafetensorsCheckpoint {
    const path = resolveCheckpoint(pathOrDir, options.prefix ?? "model");
    if (path.endsWith(".json")) return SafetensorsCheckpoint.openIndex(path);
    const file = SafetensorsFile.open(path);
    return new SafetensorsCheckpoint(path, [file], new Map(file.keys().map((k) => [k, file])), undefined, []);
  }

  /**
   * The checkpoint in `folder` (a URL, files in memory, a folder on disk): `<prefix>.safetensors`, else
   * `<prefix>.safetensors.index.json` and its shards. Only headers are fetched; `prefetch` brings the
   * tensors a loader will read.
   */
  static async fromFolder(
    folder: ModelFolder,
    options: CheckpointOpenOptions = {},
  ): Promise<SafetensorsCheckpoint> {
    const prefix = options.prefix ?? "model";
    const single = `${prefix}.safetensors`;
    const indexName = `${prefix}.safetensors.index.json`;
    if (await folder.has(single)) {
      const file = await SafetensorsFile.fetchHeader(folder, single);
      return new SafetensorsCheckpoint(
        file.path,
        [file],
        new Map(file.keys().map((k) => [k, file])),
        undefined,
        [],
      );
    }
    if (!(await folder.has(indexName))) {
      const names = await folder.list();
      const others = names?.filter((n) => n.endsWith(".safetensors") || n.endsWith(".index.json")) ?? [];
      throw new LlavaError(
        `${folder.location}: no ${single} or ${indexName}` +
          (others.length ? `; found ${others.join(", ")} — pass { prefix }` : ""),
      );
    }
    const indexPath = folder.describe(indexName);
    const { weightMap, indexMetadata } = parseIndex(await folder.text(indexName), indexPath);
    const files = new Map<string, SafetensorsFile>();
    const owner = new Map<string, SafetensorsFile>();
    for (const [tensor, shard] of Object.entries(weightMap)) {
      if (typeof shard !== "string" || shard.includes("/") || shard.includes("\\") || shard.startsWith("."))
        throw new FormatError(
          `weight_map entry is ${JSON.stringify(shard)}, not a file name beside the index`,
          indexPath,
          tensor,
        );
      let file = files.get(shard);
      if (!file) {
        if (!(await folder.has(shard)))
          throw new FormatError(`weight_map names shard "${shard}", which does not exist`, indexPath, tensor);
        file = await SafetensorsFile.fetchHeader(folder, shard);
        files.set(shard, file);
      }
      if (!file.has(tensor))
        throw new FormatError(
          `weight_map puts it in "${shard}", which has no such tensor`,
          indexPath,
          tensor,
        );
      owner.set(tensor, file);
    }
    const unindexed = [...files.values()].flatMap((f) => f.keys().filter((k) => owner.get(k) !== f));
    return new SafetensorsCheckpoint(indexPath, [...files.values()], owner, indexMetadata, unindexed);
  }

  /**
   * Fetches tensors `names` of a checkpoint opened with `fromFolder` (a no-op for one on disk); see
   * SafetensorsFile.prefetch for `release`.
   */
  async prefetch(
    names: Iterable<string>,
    options: { release?: boolean; concurrency?: number } = {},
  ): Promise<void> {
    const byFile = new Map<SafetensorsFile, string[]>();
    for (const n of names) {
      const f = this.fileOf(n);
      byFile.set(f, [...(byFile.get(f) ?? []), n]);
    }
    for (const [f, keys] of byFile) await f.prefetch(keys, options);
  }

  private static openIndex(indexPath: string): SafetensorsCheckpoint {
    const { existsSync, readFileSync } = nodeBuiltin("node:fs", `reading ${indexPath}`);
    const { dirname, join } = nodeBuiltin("node:path", `reading ${indexPath}`);
    const { weightMap, indexMetadata } = parseIndex(readFileSync(indexPath, "utf8"), indexPath);

    const dir = dirname(indexPath);
    const files = new Map<string, SafetensorsFile>();
    const owner = new Map<string, SafetensorsFile>();
    try {
      for (const [tensor, shard] of Object.entries(weightMap)) {
        if (typeof shard !== "string")
          throw new FormatError(
            `weight_map entry is ${JSON.stringify(shard)}, not a file name`,
            indexPath,
            tensor,
          );
        let file = files.get(shard);
        if (!file) {
          const shardPath = join(dir, shard);
          // Shards live beside their index (transformers joins the name to the folder); a name that leads
          // out of it is refused, not opened. Symlinks inside the folder (the HF hub cache) still work.
          if (!isInsideFolder(dir, shardPath))
            throw new FormatError(
              `weight_map names shard "${shard}", which lies outside the checkpoint folder ${dir}`,
              indexPath,
              tensor,
            );
          if (!existsSync(shardPath))
            throw new FormatError(
              `weight_map names shard "${shard}", which does not exist`,
              indexPath,
              tensor,
            );
          file = SafetensorsFile.open(shardPath);
          files.set(shard, file);
        }
        if (!file.has(tensor))
          throw new FormatError(
            `weight_map puts it in "${shard}", which has no such tensor`,
            indexPath,
            tensor,
          );
        owner.set(tensor, file);
      }
    } catch (e) {
      for (const f of files.values()) f.close();
      throw e;
    }
    const unindexed = [...files.values()].flatMap((f) => f.keys().filter((k) => owner.get(k) !== f));
    return new SafetensorsCheckpoint(indexPath, [...files.values()], owner, indexMetadata, unindexed);
  }

  /** Tensor names: weight_map order for a sharded checkpoint, data order for a single file. */
  keys(): string[] {
    return [...this.owner.keys()];
  }

  has(name: string): boolean {
    return this.owner.has(name);
  }

  /** The file holding `name`. */
  fileOf(name: string): SafetensorsFile {
    const f = this.owner.get(name);
    if (!f) throw new LlavaError(`${this.path}: no tensor "${name}" (the checkpoint has ${this.owner.size})`);
    return f;
  }

  info(name: string): TensorInfo {
    return this.fileOf(name).info(name);
  }

  shape(name: string): number[] {
    return this.fileOf(name).shape(name);
  }

  readRaw(name: string): Uint8Array {
    return this.fileOf(name).readRaw(name);
  }

  readRange(name: string, start: number, length: number, into?: Uint8Array): Uint8Array {
    return this.fileOf(name).readRange(name, start, length, into);
  }

  read(name: string): TensorData {
    return this.fileOf(name).read(name);
  }

  readBigInt64(name: string): BigInt64Array {
    return this.fileOf(name).readBigInt64(name);
  }

  tensor(name: string): tf.Tensor {
    return this.fileOf(name).tensor(name);
  }

  /** The stored dtype of tensor `name`. */
  dtype(name: string): string {
    return this.info(name).dtype;
  }

  /** Tensor `name` left in its file, read on demand (an offloaded parameter's values). */
  host(name: string): FileTensor {
    return new FileTensor(this.fileOf(name), name);
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}

/** An index.json's weight_map and metadata, or a FormatError naming the file. */
function parseIndex(
  text: string,
  indexPath: string,
): { weightMap: Record<string, unknown>; indexMetadata: Record<string, unknown> | undefined } {
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`index is not valid JSON (${(e as Error).message})`, indexPath);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap))
    throw new FormatError('index has no "weight_map" object', indexPath);
  const rawMeta = (index as { metadata?: unknown }).metadata;
  const indexMetadata =
    typeof rawMeta === "object" && rawMeta !== null ? (rawMeta as Record<string, unknown>) : undefined;
  return { weightMap: weightMap as Record<string, unknown>, indexMetadata };
}

/** The file or index.json to open for `pathOrDir`, or an error saying what was looked for. */
function resolveCheckpoint(pathOrDir: string, prefix: string): string {
  const { existsSync, readdirSync, statSync } = nodeBuiltin("node:fs", `reading ${pathOrDir}`);
  const { basename, join } = nodeBuiltin("node:path", `reading ${pathOrDir}`);
  if (!existsSync(pathOrDir)) throw new LlavaError(`${pathOrDir}: no such file or folder`);
  if (!statSync(pathOrDir).isDirectory()) return pathOrDir;
  const single = join(pathOrDir, `${prefix}.safetensors`);
  if (existsSync(single)) return single;
  const index = join(pathOrDir, `${prefix}.safetensors.index.json`);
  if (existsSync(index)) return index;
  const others = readdirSync(pathOrDir).filter(
    (n) => n.endsWith(".safetensors") || n.endsWith(".index.json"),
  );
  throw new LlavaError(
    `${pathOrDir}: no ${basename(single)} or ${basename(index)}` +
      (others.length
        ? `; found ${others.join(", ")} — open one by its path or pass { prefix }`
        : "; the folder has no .safetensors files"),
  );
}
