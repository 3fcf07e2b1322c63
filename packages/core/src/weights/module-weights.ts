// A module's weights to and from safetensors checkpoints, one tensor at a time: loading never holds a
// second copy of the model, saving never materialises more than the tensor being written.

import type { ModelFolder } from "@llava-ts/files";
import { maxHeap } from "../modules/heap-cache.js";
import {
  type LoadResult,
  type Module,
  matchName,
  type NamePattern,
  storedDtype,
  type TensorSource,
} from "../modules/module.js";
import { OffloadedParameter } from "../modules/offloaded-parameter.js";
import { type CheckpointOpenOptions, SafetensorsCheckpoint } from "../safetensors/checkpoint.js";
import {
  type CheckpointWriteOptions,
  type WrittenCheckpoint,
  writeSafetensorsCheckpoint,
} from "../safetensors/checkpoint-writer.js";
import type { SafetensorsDtype } from "../safetensors/dtype.js";

/**
 * A view of `source` under other names: `rename(checkpointKey)` gives the module key, or undefined to
 * hide the tensor (e.g. CLIP's text tower when only the vision tower is wanted).
 */
export function renamedSource(
  source: TensorSource,
  rename: (key: string) => string | undefined,
): TensorSource {
  const toSource = new Map<string, string>();
  for (const k of source.keys()) {
    const mapped = rename(k);
    if (mapped !== undefined) toSource.set(mapped, k);
  }
  return {
    keys: () => toSource.keys(),
    shape: source.shape ? (k) => source.shape!(toSource.get(k)!) : undefined,
    tensor: (k) => source.tensor(toSource.get(k)!),
    host: source.host ? (k) => source.host!(toSource.get(k)!) : undefined,
    dtype: source.dtype ? (k) => source.dtype!(toSource.get(k)!) : undefined,
  };
}

/** Keeps the keys under `prefix.` and strips it: `"vision_tower."` → the vision tower's own names. */
export function stripPrefix(prefix: string): (key: string) => string | undefined {
  return (k) => (k.startsWith(prefix) ? k.slice(prefix.length) : undefined);
}

export interface LoadWeightsOptions extends CheckpointOpenOptions {
  /** Default true: every parameter must be present and nothing else. */
  strict?: boolean;
  /** Checkpoint key → module key (undefined drops it). */
  rename?: (key: string) => string | undefined;
  /**
   * Leave the weights in the checkpoint (offloaded, frozen, read when used; the files stay open until the
   * module is disposed) instead of copying them into the heap. Default false.
   */
  offload?: boolean;
}

/** Loads a safetensors file or folder (single or sharded) into `module`, tensor by tensor. */
export function loadSafetensorsWeights(
  module: Module,
  pathOrDir: string,
  options: LoadWeightsOptions = {},
): LoadResult {
  const ckpt = SafetensorsCheckpoint.open(pathOrDir, options);
  let keepOpen = false;
  try {
    const source = options.rename ? renamedSource(ckpt, options.rename) : ckpt;
    const result = module.loadStateDict(source, {
      strict: options.strict,
      source: pathOrDir,
      offload: options.offload,
    });
    if (options.offload) {
      module.holdResource(ckpt);
      keepOpen = true;
    }
    return result;
  } finally {
    if (!keepOpen) ckpt.close();
  }
}

/**
 * Loads the checkpoint in `folder` (a URL, files in memory, a folder on disk) into `module`: headers first,
 * then only the tensors the module takes, each one range request, each dropped once in the heap (kept, and
 * read on use, when offloading).
 */
export async function loadFolderWeights(
  module: Module,
  folder: ModelFolder,
  options: LoadWeightsOptions = {},
): Promise<LoadResult> {
  const ckpt = await SafetensorsCheckpoint.fromFolder(folder, options);
  let keepOpen = false;
  try {
    const source = options.rename ? renamedSource(ckpt, options.rename) : ckpt;
    const params = new Set([...module.namedParameters()].map(([name]) => name));
    const wanted = ckpt.keys().filter((k) => params.has(options.rename ? (options.rename(k) ?? "") : k));
    await ckpt.prefetch(wanted, { release: !options.offload });
    const result = module.loadStateDict(source, {
      strict: options.strict,
      source: ckpt.path,
      offload: options.offload,
    });
    if (options.offload) {
      module.holdResource(ckpt);
      keepOpen = true;
    }
    return result;
  } finally {
    if (!keepOpen) ckpt.close();
  }
}

/** How `fromPretrained` places a model's weights (see `resolveOffload`). */
export interface PretrainedOptions {
  /**
   * Leave the weights in the checkpoint and bring each into the wasm heap only while it is used (frozen
   * until unfrozen): true, false, or "auto" (default) — offload when the model's float32 weights exceed
   * half the heap budget (`setMaxHeap`, 3 GiB by default).
   */
  offload?: boolean | "auto";
}

/** Whether a model of `parameters` values is loaded offloaded under `option`. */
export function resolveOffload(option: PretrainedOptions["offload"], parameters: number): boolean {
  if (option === undefined || option === "auto") return parameters * 4 > maxHeap() / 2;
  return option;
}

export interface SaveWeightsOptions extends CheckpointWriteOptions {
  /** Only parameters whose module key matches. */
  include?: NamePattern;
  /** Module key → checkpoint key. */
  rename?: (key: string) => string;
  /**
   * Stored float dtype: F32, BF16 or F16 for every tensor. Default: a frozen tensor in the dtype it was
   * loaded from (storedDtype — a merged BF16 model stays BF16, as save_pretrained keeps torch_dtype); a
   * trainable one, or one made in memory, in F32 (training's master copy is never rounded on save).
   */
  dtype?: Extract<SafetensorsDtype, "F32" | "BF16" | "F16">;
}

/**
 * Writes a module's parameters as transformers' save_pretrained does (sharded past `maxShardSize`), one
 * tensor in memory at a time. An offloaded parameter stored in the dtype asked for is copied byte for byte.
 */
export function saveSafetensorsWeights(
  module: Module,
  dir: string,
  options: SaveWeightsOptions = {},
): Promise<WrittenCheckpoint> {
  const entries = [...module.namedParameters()]
    .filter(([name]) => !options.include || matchName(options.include, name))
    .map(([name, p]) => ({
      name,
      p,
      dtype: options.dtype ?? (p.trainable ? undefined : storedDtype(p)) ?? "F32",
    }))
    .map(({ name, p, dtype }) => ({
      name: options.rename ? options.rename(name) : name,
      dtype,
      shape: [...p.shape],
      read: async () =>
        p instanceof OffloadedParameter && p.host?.dtype === dtype
          ? p.host.readRaw()
          : ((await p.data()) as Float32Array),
    }));
  return writeSafetensorsCheckpoint(dir, entries, options);
}
