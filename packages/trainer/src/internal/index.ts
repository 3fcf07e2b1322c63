// @llava-ts/trainer/internal: the pieces of one optimizer step, for benchmarks and profilers that drive a
// step by hand (bench/profile.mjs). Not a stable API: names and signatures follow the implementation.

export { accumulateGradients, type MicroBatchInfo } from "../accumulate-gradients.js";
export type { OptimizerParam } from "../adamw.js";
export { PartitionedAdamW, type PartitionedAdamWOptions } from "../zero2/partitioned-adamw.js";
