export {
  clearHeapCache,
  DEFAULT_MAX_HEAP,
  formatBytes,
  HeapBudgetError,
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
export * from "./layers.js";
export * from "./module.js";
export { OffloadedParameter } from "./offloaded-parameter.js";
export * from "./random.js";
