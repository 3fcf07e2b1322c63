// @llava-ts/trainer/internal: the parts the Trainer is built from, for benchmarks, profiling and tools.
// Not a stable API: names and signatures follow the implementation.

export { accumulateGradients, type MicroBatchInfo } from "../accumulate-gradients.js";
export {
  type AdamWConfig,
  type AdamWHyper,
  adamwConfig,
  adamwHyper,
  adamwUpdate,
  adamwUpdateParallel,
  type OptimizerParam,
} from "../adamw.js";
export { isEpochSource, type PositionedBatch, positionedBatches } from "../batch-stream.js";
export { pythonJson, readTrainerState, type TrainerStateJson } from "../checkpoint/trainer-state.js";
export type { RunInfo, TrainingSnapshot } from "../checkpoint/training-checkpoint.js";
export { clipCoefficient, GradientBuffer } from "../gradient-buffer.js";
export { LrSchedule } from "../lr-schedule.js";
export { isNormModule, noDecayParameterNames } from "../weight-decay-groups.js";
export { partitionRange } from "../zero2/collective/collective.js";
export {
  abortCollective,
  abortedBy,
  type CollectiveMemory,
  createCollectiveMemory,
} from "../zero2/collective/shared-memory-collective.js";
export { TimedCollective } from "../zero2/collective/timed-collective.js";
export { type FlatLayout, flatLayout, partitionOf, segmentsIn } from "../zero2/flat-layout.js";
export { PartitionedAdamW, type PartitionedAdamWOptions } from "../zero2/partitioned-adamw.js";
export { readZeroOptimizerState } from "../zero2/read-zero-optimizer-state.js";
export {
  OPTIMIZER_FILE,
  ZERO_LATEST_FILE,
  ZERO_PARTITIONS_FILE,
  type ZeroPartitionsJson,
  zeroRankFile,
  zeroStepDir,
} from "../zero2/zero2-checkpoint.js";
