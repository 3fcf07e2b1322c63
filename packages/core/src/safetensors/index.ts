/**
 * # safetensors
 *
 * Read and write Hugging Face `.safetensors` files and sharded checkpoints, lazily and in a streaming
 * way, so a multi-GB checkpoint is never held in memory.
 *
 * **Reading.** `SafetensorsFile.open(path)` reads and validates only the header; `read(name)` reads
 * exactly that tensor's bytes. `SafetensorsCheckpoint.open(pathOrDir, { prefix })` takes a file, an
 * `*.index.json`, or a folder with `model.safetensors` or `model.safetensors.index.json` (the single file
 * wins, as in transformers; `prefix: "adapter_model"` for PEFT folders), and offers the same API.
 * ```ts
 * const ckpt = SafetensorsCheckpoint.open("hf/llava");
 * ckpt.info("multi_modal_projector.linear_1.weight"); // { dtype: "F32", shape: [64, 32], byteLength, offsets }
 * const w = ckpt.tensor("multi_modal_projector.linear_1.weight"); // tf.Tensor, caller disposes
 * ckpt.close();
 * ```
 * dtypes: F32/F16/BF16/F64 → float32 (F16/BF16 exactly, F64 rounded); I64/I32/I16/I8/U64/U32/U16/U8 →
 * int32 (a value outside int32 is an error naming the tensor — use `readBigInt64()` for exact I64);
 * BOOL → tfjs "bool" (Uint8Array). `readRaw()` returns the stored bytes for any dtype, FP8 included.
 *
 * **Validation** (as the Rust reader): a file shorter than 8 bytes, a header length past the end of the
 * file or over 100 MB, a header that is not UTF-8 JSON object, an unknown dtype, a byte length that is
 * not dtype × shape, offsets out of range (truncated file), overlapping, leaving gaps or trailing bytes,
 * an index naming a missing shard or a tensor not in its shard — each a `FormatError` naming the file
 * and, where there is one, the tensor.
 *
 * **Writing.** `writeSafetensors(path, entries, metadata?)` takes entries
 * `{ name, dtype, shape, read: () => TypedArray | Promise<TypedArray> }`: the header is planned from
 * names/dtypes/shapes, then each `read()` is awaited and written before the next, so one tensor at a time
 * is in memory. `float32` data narrows to `F16` / `BF16` (round-to-nearest-even, as torch) when the
 * entry's dtype says so; a `Uint8Array` is taken as raw bytes of the entry's dtype. The layout is exactly
 * the Rust writer's (`safetensors.torch.save_file`): tensors sorted by dtype width (U64, I64, F64, F32,
 * U32, I32, BF16, F16, U16, I16, FP8, I8, U8, BOOL) then by name, compact JSON header with
 * `__metadata__` first (its keys sorted), padded with spaces to a multiple of 8 bytes — so re-saving a
 * file written by Python gives the same bytes. `saveSafetensors(path, record, metadata?, { floatDtype })`
 * accepts tf tensors or `{ dtype, shape, data }`.
 *
 * `writeSafetensorsCheckpoint(dir, entries, { prefix, maxShardSize, metadata })` does what
 * transformers' `save_pretrained` does: tensors grouped in the given order by `maxShardSize` (default
 * "5GB"; one oversized tensor gets its own shard), a single `<prefix>.safetensors` when one shard is
 * enough, else `<prefix>-00001-of-0000n.safetensors` + `<prefix>.safetensors.index.json`
 * (`{"metadata": {"total_size"}, "weight_map"}`, written as Python's `json.dumps(indent=2,
 * sort_keys=True)`), each file with `__metadata__` `{format: "pt"}` by default. Stale files of an earlier
 * save with the same prefix are removed.
 */

export { type CheckpointOpenOptions, SafetensorsCheckpoint } from "./checkpoint.js";
export {
  type CheckpointWriteOptions,
  formatIndex,
  parseSize,
  planShards,
  type ShardIndex,
  shardFileName,
  type WrittenCheckpoint,
  writeSafetensorsCheckpoint,
} from "./checkpoint-writer.js";
export { type DecodeContext, decodeTensor, type LoadedArray, type TensorData } from "./decode.js";
export {
  dtypeSize,
  isSafetensorsDtype,
  type LoadedDtype,
  loadedDtype,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
} from "./dtype.js";
export { encodeTensor, type WritableArray } from "./encode.js";
export { bf16ToFloat32, f16ToFloat32, float32ToBf16, float32ToF16 } from "./half.js";
export { type Header, MAX_HEADER_BYTES, parseHeader, type TensorInfo } from "./header.js";
export { type FileLayout, planFile, type TensorSpec } from "./layout.js";
export { SafetensorsFile, type SafetensorsSource } from "./safetensors-file.js";
export {
  type EntryOptions,
  encodeSafetensors,
  type PlainTensor,
  saveSafetensors,
  type TensorEntry,
  tensorEntries,
  type WrittenFile,
  writeSafetensors,
} from "./writer.js";
