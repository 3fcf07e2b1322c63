// --max-heap, shared by the commands that load a model: the cap on the wasm heap's live tensors, under which
// the weights of a model larger than the heap come and go (core's heap cache).
import { setMaxHeap } from "@llava-ts/core";
import type { Flags, FlagTable } from "../args.js";

export const maxHeapFlag: FlagTable = {
  "max-heap": {
    type: "string",
    value: "SIZE",
    help: "cap on the wasm heap's live tensors, e.g. 3GB (the heap ends at 4 GiB; default 3 GiB or LLAVA_MAX_HEAP)",
  },
};

/** Applies --max-heap (before the model loads); returns the value given, if any. */
export function applyMaxHeap(f: Flags): string | undefined {
  const value = f.string("max-heap");
  if (value !== undefined) setMaxHeap(value);
  return value;
}
