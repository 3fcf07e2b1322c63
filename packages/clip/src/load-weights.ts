// Loading a module's parameters from a safetensors checkpoint through a key map. Kept to this one
// function so it can be swapped for core's `loadSafetensorsWeights` once that exists.
import { type LoadResult, type Module, SafetensorsCheckpoint, type TensorSource } from "@llava-ts/core";

export interface LoadWeightsOptions {
  /** Raise on missing (and, after mapping, unexpected) keys; wrong shapes always raise. Default true. */
  strict?: boolean;
  /** Checkpoint key → module key, or undefined to ignore the tensor. Default: identity. */
  keyMap?: (checkpointKey: string) => string | undefined;
}

/** Reads `dirOrFile` (file, index.json or folder) into `module`, one tensor at a time. */
export function loadSafetensorsWeights(
  module: Module,
  dirOrFile: string,
  options: LoadWeightsOptions = {},
): LoadResult {
  const ckpt = SafetensorsCheckpoint.open(dirOrFile);
  try {
    const toCheckpoint = new Map<string, string>();
    for (const key of ckpt.keys()) {
      const mapped = options.keyMap ? options.keyMap(key) : key;
      if (mapped !== undefined) toCheckpoint.set(mapped, key);
    }
    const source: TensorSource = {
      keys: () => toCheckpoint.keys(),
      shape: (k) => ckpt.info(toCheckpoint.get(k)!).shape,
      tensor: (k) => ckpt.tensor(toCheckpoint.get(k)!),
    };
    return module.loadStateDict(source, { strict: options.strict ?? true, source: ckpt.path });
  } finally {
    ckpt.close();
  }
}
