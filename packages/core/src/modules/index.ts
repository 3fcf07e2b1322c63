export {
  clearHeapCache,
  DEFAULT_MAX_HEAP,
  DEFAULT_TRAIN_MAX_HEAP,
  formatBytes,
  type HeapCacheStats,
  heapCacheStats,
  maxHeap,
  parseByteSize,
  setMaxHeap,
  WASM_HEAP_LIMIT,
} from "./heap-cache.js";
export {
  BytesTensor,
  FileTensor,
  type HostDtype,
  type HostTensor,
  hostBytes,
  isHostDtype,
  readFloat32,
} from "./host-tensor.js";
export { Embedding, LayerNorm, Linear, type LinearOptions, ModuleList, RMSNorm } from "./layers.js";
export {
  type Closeable,
  emptyWeights,
  type LoadOptions,
  type LoadResult,
  Module,
  matchName,
  type NamePattern,
  type Parameter,
  storedDtype,
  type TensorSource,
} from "./module.js";
export { OffloadedParameter } from "./offloaded-parameter.js";
export { type Initializer, normalInit, onesInit, Rng, size, zerosInit } from "./random.js";
